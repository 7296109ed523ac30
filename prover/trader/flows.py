"""A trader's collateral in and out (docs/flows.md): ``zkmatch trader deposit``,
``zkmatch trader withdraw`` and ``zkmatch trader claim``.

A deposit is two chain calls from the key file's sending account: ERC-20 ``approve`` of the
Rollup, then ``Rollup.deposit(keyX, keyY, amount)``, which pulls the tokens and queues the
deposit under the account key (the Rollup names the account: the one it gave that key
before, else the next free index). The next batches credit it, open the account, or refund
it to the sending address as an exit (a key outside the prime-order subgroup, another key's
account); a withdrawal is a signed, encrypted inbox message (sent like an order) that the
next batch pays, as an exit, when the account keeps its initial margin after it; ``claim``
pays what accepted exits owe an address. Amounts are token units: the
collateral unit is the token's smallest unit (6 decimals for USDC), one for one.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from prover.errors import ZkmatchError
from prover.exchange.flows import AMOUNT_BITS, SignedWithdrawal, Withdrawal, key_valid
from prover.exchange.inbox import encrypt_entry
from prover.trader.keys import TraderKey
from prover.trader.send import TraderError, _hex, open_venue, post_message

#: The collateral token's decimals (USDC's; the mock's).
TOKEN_DECIMALS = 6


def parse_amount(text: str | int, *, units: bool = False) -> int:
    """An amount of collateral: a decimal number of tokens ("1000", "0.25": at most 6
    decimals), or with ``units`` an integer number of token units; 1 <= units < 2^56."""
    try:
        if units:
            value = int(str(text), 10)
        else:
            exact = Decimal(str(text)) * (10**TOKEN_DECIMALS)
            if exact != exact.to_integral_value():
                raise TraderError(
                    f"amount {text}: at most {TOKEN_DECIMALS} decimals (the token's smallest "
                    "unit is 10^-6)"
                )
            value = int(exact)
    except (ValueError, InvalidOperation) as exc:
        raise TraderError(f"amount {text!r} is not a number") from exc
    if not 0 < value < 1 << AMOUNT_BITS:
        raise TraderError(f"amount {text}: a deposit is 1 to 2^56 - 1 token units, got {value}")
    return value


def _ether(client: Any, address: str) -> None:
    from prover.chain.signer import fund_on_dev_chain

    if int(client.w3.eth.get_balance(address)) == 0 and not fund_on_dev_chain(
        client.w3, address
    ):
        raise TraderError(
            f"the sending account {address} has no ether on this chain; fund it (it pays for "
            "the transactions) and try again"
        )


def deposit_collateral(
    key: TraderKey, amount: int, *, rpc_url: str | None = None, rollup: str | None = None,
    data_dir: Path | None = None, mint: bool = False,
) -> dict[str, Any]:
    """``zkmatch trader deposit``: approve and deposit ``amount`` token units under the key
    file's account key, from its sending address (``mint``: first mint them, on a
    development token). Returns the queued deposit: its number, the account the Rollup
    names, the transaction."""
    from prover.chain.rollup import RollupRevert
    from prover.chain.rollup import mint as mint_tokens

    if not key_valid(key.public_key):
        raise TraderError("the key file's account key is not a valid Baby Jubjub key")
    with open_venue(rpc_url=rpc_url, rollup=rollup, data_dir=data_dir) as (client, _venue):
        signer = key.signer
        _ether(client, signer.address)
        token = client.collateral_token()
        known = client.account_of(key.public_key)
        try:
            if mint:
                mint_tokens(client.w3, token, signer.address, amount, signer=signer)
            balance = client.token_balance(signer.address)
            if balance < amount:
                raise TraderError(
                    f"{signer.address} holds {balance} units of the collateral token {token}, "
                    f"the deposit is {amount}: nothing sent"
                )
            receipt = client.approve_and_deposit(key.public_key, amount, signer=signer)
        except RollupRevert as exc:
            raise TraderError(f"the Rollup refused the deposit ({exc}); nothing moved") from exc
        except ZkmatchError:
            raise
        except Exception as exc:  # web3 raises many types (rpc errors, reverts)
            raise TraderError(f"the deposit failed: {exc}") from exc
        from web3.logs import DISCARD

        # The token's own Transfer log is in the receipt too: only the Rollup's is read.
        events = client.contract.events.Deposited().process_receipt(receipt, errors=DISCARD)
        if len(events) != 1:
            raise TraderError(
                f"transaction {_hex(receipt['transactionHash'])} emitted {len(events)} "
                "Deposited events, expected 1"
            )
        args = events[0]["args"]
        return {
            "number": int(args["number"]),
            "account": int(args["account"]),
            "new_account": known is None,
            "amount": str(amount),
            "depositor": signer.address,
            "token": token,
            "chain": str(args["chain"]),
            "tx_hash": _hex(receipt["transactionHash"]),
            "block": int(receipt["blockNumber"]),
            "gas_used": int(receipt["gasUsed"]),
            "queued": client.deposit_count() - client.deposits_consumed(),
        }


def _address(text: str) -> int:
    from web3 import Web3

    if not Web3.is_address(text):
        raise TraderError(f"{text!r} is not an Ethereum address")
    value = int(Web3.to_checksum_address(text), 16)
    if value == 0:
        raise TraderError("the recipient may not be address 0 (the batch would not pay it)")
    return value


def current_nonce(
    key: TraderKey, account: int, *, receipts_dir: Path | None = None,
    rpc_url: str | None = None, rollup: str | None = None, data_dir: Path | None = None,
) -> tuple[int, dict[str, Any]]:
    """The account's nonce from its latest receipt, checked against the chain (``zkmatch
    trader state``), and that report."""
    from prover.trader.state import resolve_receipt, trader_state

    path = resolve_receipt(None, receipts_dir, account, data_dir)
    report = trader_state(path, account=account, key=key, rpc_url=rpc_url, rollup=rollup,
                          data_dir=data_dir)
    return int(report["nonce"]), report


def withdraw_collateral(
    key: TraderKey, account: int, amount: int, *, recipient: str | None = None,
    nonce: int | None = None, receipts_dir: Path | None = None, rpc_url: str | None = None,
    rollup: str | None = None, data_dir: Path | None = None,
) -> dict[str, Any]:
    """``zkmatch trader withdraw``: sign ``amount`` of ``account``'s collateral to
    ``recipient`` (default: the key file's sending address) at the account's ``nonce``
    (default: its latest receipt's, checked on chain), encrypt it to the operator and send
    it to the inbox. The next batch pays it (an exit to claim) if the account keeps its
    initial margin after it; either way it uses the nonce."""
    to = _address(recipient) if recipient is not None else int(key.signer.address, 16)
    source = "given"
    if nonce is None:
        nonce, report = current_nonce(key, account, receipts_dir=receipts_dir,
                                      rpc_url=rpc_url, rollup=rollup, data_dir=data_dir)
        source = (f"receipt of batch {report['batch']}"
                  + ("" if report["current"] else " (the Rollup has moved on since)"))
    try:
        request = Withdrawal(account, amount, to, nonce)
    except ZkmatchError as exc:
        raise TraderError(f"withdrawal refused, nothing sent: {exc}") from exc
    signed = SignedWithdrawal.sign(request, key.account_key)
    with open_venue(rpc_url=rpc_url, rollup=rollup, data_dir=data_dir) as (client, venue):
        known = client.account_of(key.public_key)
        if known is not None and known != account:
            raise TraderError(
                f"the Rollup gave this key account {known}, not {account}: nothing sent"
            )
        message = encrypt_entry(signed, venue.operator_key)
        sent = post_message(client, message, key)
    return {
        "withdrawal": request.to_json(),
        "nonce_from": source,
        "message": message.to_json(),
        "sent": True,
        **sent.to_json(),
    }


def freeze_rollup(
    key: TraderKey, *, rpc_url: str | None = None, rollup: str | None = None,
    data_dir: Path | None = None,
) -> dict[str, Any]:
    """``zkmatch trader freeze``: freeze the Rollup because a message or deposit waited past
    the forced delay (anyone may; sent from the key file's sending address). Refused, and
    nothing sent, while nothing is overdue."""
    from prover.chain.rollup import MODE_ACTIVE, RollupRevert

    with open_venue(rpc_url=rpc_url, rollup=rollup, data_dir=data_dir) as (client, _venue):
        if client.mode() != MODE_ACTIVE:
            raise TraderError("the Rollup is frozen already")
        if not client.overdue():
            raise TraderError(
                f"nothing is overdue: every inbox message and deposit is within the "
                f"{client.forced_delay()} s the operator has to serve it; nothing sent"
            )
        _ether(client, key.signer.address)
        try:
            receipt = client.freeze(signer=key.signer)
        except RollupRevert as exc:
            raise TraderError(f"the Rollup refused to freeze ({exc})") from exc
        state = client.state()
        return {
            "frozen": True, "batch_number": state.batch_number, "root": str(state.root),
            "inbox_consumed": client.inbox_consumed(),
            "deposits_consumed": client.deposits_consumed(),
            "tx_hash": _hex(receipt["transactionHash"]), "block": int(receipt["blockNumber"]),
        }


def refund_deposits(
    key: TraderKey, *, numbers: list[int] | None = None, rpc_url: str | None = None,
    rollup: str | None = None, data_dir: Path | None = None,
) -> dict[str, Any]:
    """``zkmatch trader refund-deposits``: in the frozen mode, give every deposit no batch
    consumed (or the ``numbers`` given) back to its depositor as a claimable amount (anyone
    may send it; the amount goes to the depositor)."""
    from prover.chain.rollup import MODE_FROZEN, RollupRevert

    with open_venue(rpc_url=rpc_url, rollup=rollup, data_dir=data_dir) as (client, _venue):
        if client.mode() != MODE_FROZEN:
            raise TraderError("the Rollup is not frozen: queued deposits wait for a batch")
        queued = client.deposits(from_number=client.deposits_consumed())
        wanted = [d for d in queued if numbers is None or d.number in numbers]
        if numbers is not None and len(wanted) != len(set(numbers)):
            raise TraderError("some of those deposits do not exist or were consumed")
        _ether(client, key.signer.address)
        done = []
        for d in wanted:
            if client.deposit_refunded(d.number):
                continue
            try:
                client.refund_deposit(d, signer=key.signer)
            except RollupRevert as exc:
                raise TraderError(f"deposit {d.number}: the Rollup refused ({exc})") from exc
            done.append({"number": d.number, "depositor": "0x" + format(d.depositor, "040x"),
                         "amount": str(d.amount)})
        return {"refunded": done}


def claim_exits(
    key: TraderKey | None, recipient: str | None = None, *, rpc_url: str | None = None,
    rollup: str | None = None, data_dir: Path | None = None,
) -> dict[str, Any]:
    """``zkmatch trader claim``: pay ``recipient`` (default: the key file's sending address)
    what accepted exits owe it, sent from the key file's sending account."""
    from prover.chain.rollup import RollupRevert

    if key is None and recipient is None:
        raise TraderError("give --key (claims for its sending address) or --to ADDRESS")
    with open_venue(rpc_url=rpc_url, rollup=rollup, data_dir=data_dir) as (client, _venue):
        to = recipient or (key.signer.address if key is not None else "")
        owed = client.claimable(to)
        if owed == 0:
            raise TraderError(f"the Rollup owes {to} nothing: no accepted exit to claim")
        if key is None:
            raise TraderError("sending the claim needs --key (its sending account pays gas)")
        _ether(client, key.signer.address)
        before = client.token_balance(to)
        try:
            receipt = client.claim(to, signer=key.signer)
        except RollupRevert as exc:
            raise TraderError(f"the Rollup refused the claim ({exc})") from exc
        return {
            "recipient": to,
            "amount": str(owed),
            "balance_before": str(before),
            "balance_after": str(client.token_balance(to)),
            "tx_hash": _hex(receipt["transactionHash"]),
            "block": int(receipt["blockNumber"]),
            "gas_used": int(receipt["gasUsed"]),
        }


__all__ = [
    "TOKEN_DECIMALS", "claim_exits", "current_nonce", "deposit_collateral", "freeze_rollup",
    "parse_amount", "refund_deposits", "withdraw_collateral",
]
