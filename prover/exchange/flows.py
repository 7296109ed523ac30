"""Collateral in and out of the venue (docs/flows.md): the deposit queue, exits, and the
key check a new account's key passes.

Pure encodings, shared by the batch circuit (circuits/lib/DepositEntry.circom), the
Rollup (verifier_contracts/Rollup.sol) and its client (prover/chain/rollup.py):

- A **deposit** is ``(index, keyX, keyY, amount, depositor)``: the Rollup takes ``amount``
  token units (one unit = one collateral unit) from ``depositor`` and names the account:
  the index it gave that key before, else the next free one. Its queue is a Poseidon
  chain ``d_0 = 0``, ``d_{i+1} = Poseidon4(d_i, keyX, keyY, packed)`` with
  ``packed = TAG_DEPOSIT * 2^248 + index * 2^216 + amount * 2^160 + depositor``.
- An **exit** is ``(recipient, amount > 0)``: tokens the Rollup owes an address once the
  batch that made it is accepted (a refunded deposit, a withdrawal). A batch's exits
  form the chain ``x_0 = 0``, ``x_{j+1} = Poseidon3(x_j, TAG_EXIT, amount * 2^160 +
  recipient)``; the Rollup rebuilds it from the list the operator passes (public input
  ``exitsHash``) and credits each recipient, who claims once.
- A **withdrawal** is an inbox message (docs/flows.md, "Withdrawals"): ``(account, amount,
  recipient)`` signed by the account's key over ``H_WITHDRAW(account, amount, recipient,
  nonce)`` with the leaf's nonce, so a signed withdrawal is used once, paid or not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from prover.crypto import babyjub, eddsa
from prover.crypto.eddsa import PrivateKey, Signature
from prover.crypto.poseidon_hash import poseidon
from prover.errors import ProtocolError
from prover.exchange.constants import (
    COLLATERAL_BITS,
    FEE_ACCOUNT,
    INSURANCE_ACCOUNT,
    MAX_ACCOUNT_BITS,
    TAG_DEPOSIT,
    TAG_EXIT,
    TAG_WITHDRAW,
)
from prover.field import SNARK_FIELD

#: A deposit's amount is below 2^56 token units (7.2 * 10^10 USDC at 6 decimals).
AMOUNT_BITS = 56
#: A deposit is credited only while the account's collateral stays below 2^62, half its
#: range (|C| < 2^63): headroom for the funding the account may receive later, which phase 2
#: must be able to add (its range check is an assertion).
DEPOSIT_HEADROOM_LIMIT = 1 << (COLLATERAL_BITS - 1)
ADDRESS_BITS = 160
DEPOSIT_CHAIN_0 = 0
EXITS_CHAIN_0 = 0

#: The points of order dividing 8 (the cofactor), ``TORSION[i] = i * T8`` for a point T8
#: of order 8 (``SUBORDER * GENERATOR``); every curve point is ``8 * Q + TORSION[i]`` for
#: one ``i``, and lies in the prime-order subgroup iff that ``i`` is 0.
TORSION: tuple[tuple[int, int], ...] = tuple(
    babyjub.mul(babyjub.GENERATOR, babyjub.SUBORDER * i) if i else babyjub.IDENTITY
    for i in range(8)
)
_INV8 = pow(8, -1, babyjub.SUBORDER)
#: ``SUBORDER * u`` with ``u = SUBORDER^-1 mod 8``: multiplying by it keeps a point's
#: torsion part and kills its subgroup part.
_TORSION_PROJECTOR = babyjub.SUBORDER * pow(babyjub.SUBORDER, -1, 8)


def _check_uint(value: object, bits: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise ProtocolError(f"{what} must be an integer in [0, 2^{bits}), got {value!r}")
    return value


def key_decomposition(key: tuple[int, int]) -> tuple[tuple[int, int], int]:
    """``(Q, i)`` with ``key = 8 * Q + TORSION[i]`` (the circuit's hint); ``key`` must be
    on the curve (the Rollup refuses any other)."""
    if not babyjub.on_curve(key):
        raise ProtocolError(f"{key} is not on Baby Jubjub")
    torsion = babyjub.mul(key, _TORSION_PROJECTOR)
    index = TORSION.index(torsion)
    sub = babyjub.add(key, babyjub.neg(torsion))
    return babyjub.mul(sub, _INV8), index


def key_valid(key: tuple[int, int]) -> bool:
    """A key a deposit may open an account with: on the curve, in the prime-order subgroup
    and not the identity (DepositEntry's rule; ``eddsa.is_valid_public_key``)."""
    if not babyjub.on_curve(key):
        return False
    return key_decomposition(key)[1] == 0 and key[0] != 0


@dataclass(frozen=True)
class Deposit:
    """One entry of the Rollup's deposit queue (``Deposited`` event)."""

    number: int
    """0-based position in the queue."""
    account: int
    key: tuple[int, int]
    amount: int
    depositor: int
    """The depositing address as an integer (where a refund goes)."""

    def __post_init__(self) -> None:
        _check_uint(self.number, 64, "a deposit's number")
        _check_uint(self.account, MAX_ACCOUNT_BITS, "a deposit's account")
        _check_uint(self.amount, AMOUNT_BITS, "a deposit's amount")
        if self.amount == 0:
            raise ProtocolError("a deposit's amount must be positive")
        _check_uint(self.depositor, ADDRESS_BITS, "a depositor address")
        if len(self.key) != 2 or not all(0 <= int(c) < SNARK_FIELD for c in self.key):
            raise ProtocolError(f"a deposit's key is two field elements, got {self.key!r}")

    def packed(self) -> int:
        return (
            (TAG_DEPOSIT << 248) | (self.account << 216) | (self.amount << 160) | self.depositor
        )

    def chain_step(self, chain: int) -> int:
        return poseidon([chain, self.key[0], self.key[1], self.packed()])

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "account": self.account,
            "key": [str(self.key[0]), str(self.key[1])],
            "amount": str(self.amount),
            "depositor": hex(self.depositor),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deposit:
        return cls(
            int(data["number"]),
            int(data["account"]),
            (int(data["key"][0]), int(data["key"][1])),
            int(data["amount"]),
            int(str(data["depositor"]), 0),
        )


def deposit_chain(deposits: Iterable[Deposit], start: int = DEPOSIT_CHAIN_0) -> int:
    chain = start
    for d in deposits:
        chain = d.chain_step(chain)
    return chain


@dataclass(frozen=True)
class Exit:
    """Tokens the Rollup owes ``recipient`` once the batch is accepted."""

    recipient: int
    amount: int

    def __post_init__(self) -> None:
        _check_uint(self.recipient, ADDRESS_BITS, "an exit's recipient")
        _check_uint(self.amount, AMOUNT_BITS, "an exit's amount")
        if self.amount == 0:
            raise ProtocolError("an exit's amount must be positive")

    def packed(self) -> int:
        return (self.amount << 160) | self.recipient

    def to_json(self) -> dict[str, Any]:
        return {"recipient": hex(self.recipient), "amount": str(self.amount)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Exit:
        return cls(int(str(data["recipient"]), 0), int(data["amount"]))


def exits_hash(exits: Sequence[Exit], start: int = EXITS_CHAIN_0) -> int:
    chain = start
    for x in exits:
        chain = poseidon([chain, TAG_EXIT, x.packed()])
    return chain


class DepositOutcome(Enum):
    """What a batch does with a deposit (DepositEntry's cases)."""

    CREATED = "created"
    """The account's leaf was empty and the key is valid: a new account with the amount."""
    CREDITED = "credited"
    """The account holds this key: the amount is added to its collateral."""
    REFUNDED = "refunded"
    """Anything else (an invalid key, another key's account, the fee account or the
    insurance fund, collateral that would leave its range): the amount is an exit to the
    depositor."""


def deposit_outcome(
    deposit: Deposit, leaf_key: tuple[int, int], collateral: int, exists: bool
) -> DepositOutcome:
    """The rule (docs/flows.md): ``leaf_key``, ``collateral`` are the account's as the
    batch holds it before the deposit (after funding and earlier deposits); ``exists``
    whether its leaf is non-empty (key x != 0, or account 0 or 1)."""
    if deposit.account in (FEE_ACCOUNT, INSURANCE_ACCOUNT):
        return DepositOutcome.REFUNDED
    if collateral + deposit.amount >= DEPOSIT_HEADROOM_LIMIT:
        return DepositOutcome.REFUNDED
    if not exists:
        return DepositOutcome.CREATED if key_valid(deposit.key) else DepositOutcome.REFUNDED
    if tuple(leaf_key) == tuple(deposit.key):
        return DepositOutcome.CREDITED
    return DepositOutcome.REFUNDED


#: The plaintext layout of a withdrawal message (docs/inbox.md): bit 0 is 1 (as a cancel's
#: kind), the account at bits 1..32 (as every message's), the amount at 33..88, the
#: recipient at 89..248, bit 252 set (WITHDRAW_FLAG_BIT) and bits 249..251 and 253 zero. An
#: order or cancel has bits 235..253 zero, so the two layouts never overlap.
WITHDRAW_ACCOUNT_OFFSET = 1
WITHDRAW_AMOUNT_OFFSET = 33
WITHDRAW_RECIPIENT_OFFSET = 89
WITHDRAW_FLAG_BIT = 252


@dataclass(frozen=True)
class Withdrawal:
    """What a withdrawal message asks: ``amount`` token units of ``account``'s collateral to
    ``recipient`` (an address as an integer), signed at the account's ``nonce``."""

    account: int
    amount: int
    recipient: int
    nonce: int

    def __post_init__(self) -> None:
        _check_uint(self.account, MAX_ACCOUNT_BITS, "a withdrawal's account")
        _check_uint(self.amount, AMOUNT_BITS, "a withdrawal's amount")
        _check_uint(self.recipient, ADDRESS_BITS, "a withdrawal's recipient")
        _check_uint(self.nonce, 64, "a withdrawal's nonce")

    def hash(self) -> int:
        """``H_WITHDRAW(account, amount, recipient, nonce)`` (capacity TAG_WITHDRAW)."""
        return poseidon(
            [self.account, self.amount, self.recipient, self.nonce], init_state=TAG_WITHDRAW
        )

    def packed(self) -> int:
        """The message's first plaintext element (the nonce is not sent: the leaf has it)."""
        return (
            (1 << WITHDRAW_FLAG_BIT)
            | (self.recipient << WITHDRAW_RECIPIENT_OFFSET)
            | (self.amount << WITHDRAW_AMOUNT_OFFSET)
            | (self.account << WITHDRAW_ACCOUNT_OFFSET)
            | 1
        )

    def to_json(self) -> dict[str, Any]:
        return {"account": self.account, "amount": str(self.amount),
                "recipient": hex(self.recipient), "nonce": str(self.nonce)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Withdrawal:
        return cls(int(data["account"]), int(data["amount"]), int(str(data["recipient"]), 0),
                   int(data["nonce"]))


def unpack_withdrawal(packed: int) -> tuple[int, int, int] | None:
    """``(account, amount, recipient)`` if ``packed`` has the withdrawal layout, else None."""
    if packed >> WITHDRAW_FLAG_BIT != 1 or packed & 1 != 1:
        return None
    if (packed >> (WITHDRAW_RECIPIENT_OFFSET + ADDRESS_BITS)) & 0b111:
        return None
    account = (packed >> WITHDRAW_ACCOUNT_OFFSET) & ((1 << MAX_ACCOUNT_BITS) - 1)
    amount = (packed >> WITHDRAW_AMOUNT_OFFSET) & ((1 << AMOUNT_BITS) - 1)
    recipient = (packed >> WITHDRAW_RECIPIENT_OFFSET) & ((1 << ADDRESS_BITS) - 1)
    return account, amount, recipient


@dataclass(frozen=True)
class SignedWithdrawal:
    """A withdrawal with the account key's signature over ``withdrawal.hash()``."""

    withdrawal: Withdrawal
    signature: Signature

    @classmethod
    def sign(cls, withdrawal: Withdrawal, private_key: bytes | PrivateKey) -> SignedWithdrawal:
        return cls(withdrawal, eddsa.sign_compact(private_key, withdrawal.hash()))

    @property
    def account(self) -> int:
        return self.withdrawal.account

    def verify(self, pubkey: tuple[int, int]) -> bool:
        try:
            return bool(eddsa.verify(pubkey, self.withdrawal.hash(), self.signature))
        except (ValueError, TypeError):
            return False

    def at_nonce(self, nonce: int) -> SignedWithdrawal:
        """The same message read at another leaf nonce (what the circuit checks)."""
        w = self.withdrawal
        return SignedWithdrawal(Withdrawal(w.account, w.amount, w.recipient, nonce),
                                self.signature)


def withdrawal_outcome(
    signed: SignedWithdrawal,
    *,
    account_bits: int,
    pubkey: tuple[int, int],
    nonce: int,
    collateral: int,
    sizes: Sequence[int],
    markets: Sequence[Any],
    marks: Sequence[int],
) -> tuple[bool, bool, Any]:
    """``(consumed, paid, reason)``: WithdrawEntry's rule on the account as the message
    finds it (its key, nonce, collateral and position sizes, after funding, the deposits
    and the batch's earlier entries). The nonce is used when the account key signed the
    withdrawal at this nonce; it is paid when, besides, the amount and the recipient are not
    zero and the account keeps its initial margin after the debit (MarginBit with the
    positions unchanged: ``|C'| < 2^63`` and ``V' * 10^4 >= IR``). ``reason`` names why
    not, as the other messages' no-ops do."""
    from prover.exchange.domain import ZERO_PUBKEY, Reject
    from prover.exchange.margin import weighed_fill_ok

    w = signed.withdrawal
    if w.account >= 1 << account_bits or tuple(pubkey) == ZERO_PUBKEY:
        return False, False, Reject.UNKNOWN_ACCOUNT
    if w.account == INSURANCE_ACCOUNT:
        return False, False, Reject.MALFORMED
    if not signed.at_nonce(nonce).verify(pubkey):
        return False, False, Reject.BAD_SIGNATURE
    if w.amount == 0 or w.recipient == 0:
        return True, False, Reject.MALFORMED
    if not weighed_fill_ok(collateral, sizes, collateral - w.amount, sizes, markets, marks):
        return True, False, Reject.INSUFFICIENT_MARGIN
    return True, True, None


__all__ = [
    "ADDRESS_BITS", "AMOUNT_BITS", "DEPOSIT_CHAIN_0", "Deposit", "DepositOutcome", "EXITS_CHAIN_0",
    "Exit", "SignedWithdrawal", "TORSION", "WITHDRAW_FLAG_BIT", "Withdrawal", "deposit_chain",
    "deposit_outcome", "exits_hash", "key_decomposition", "key_valid", "unpack_withdrawal",
    "withdrawal_outcome",
]
