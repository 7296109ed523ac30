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
  batch that made it is accepted (a refunded deposit; later a withdrawal). A batch's exits
  form the chain ``x_0 = 0``, ``x_{j+1} = Poseidon3(x_j, TAG_EXIT, amount * 2^160 +
  recipient)``; the Rollup rebuilds it from the list the operator passes (public input
  ``exitsHash``) and credits each recipient, who claims once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from prover.crypto import babyjub
from prover.crypto.poseidon_hash import poseidon
from prover.errors import ProtocolError
from prover.exchange.constants import (
    COLLATERAL_BITS,
    FEE_ACCOUNT,
    INSURANCE_ACCOUNT,
    MAX_ACCOUNT_BITS,
    TAG_DEPOSIT,
    TAG_EXIT,
)
from prover.field import SNARK_FIELD

#: A deposit's amount is below 2^56 token units (7.2 * 10^10 USDC at 6 decimals).
AMOUNT_BITS = 56
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
    if collateral + deposit.amount >= 1 << COLLATERAL_BITS:
        return DepositOutcome.REFUNDED
    if not exists:
        return DepositOutcome.CREATED if key_valid(deposit.key) else DepositOutcome.REFUNDED
    if tuple(leaf_key) == tuple(deposit.key):
        return DepositOutcome.CREDITED
    return DepositOutcome.REFUNDED


__all__ = [
    "ADDRESS_BITS", "AMOUNT_BITS", "DEPOSIT_CHAIN_0", "Deposit", "DepositOutcome", "EXITS_CHAIN_0",
    "Exit", "TORSION", "deposit_chain", "deposit_outcome", "exits_hash", "key_decomposition",
    "key_valid",
]
