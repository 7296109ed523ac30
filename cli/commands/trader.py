"""``zkmatch trader``: a trader's key file, and orders and cancels sent to the inbox.

    zkmatch trader keygen --out trader.key [--seed TEXT] [--force] [--show-private]
    zkmatch trader order --key trader.key --account 2 --market 0 --side sell
                         --price 31000000 --size 1 --order-id 7 --expiry +3600
                         [--max-fee PPM] [--tif gtc|ioc|post-only]
                         (--rpc-url URL --rollup ADDRESS | --data DIR) [--out FILE]
    zkmatch trader cancel --key trader.key --account 2 --order-id 7 [--cancel-id ID]
                          [--slot-bits S] (--rpc-url URL --rollup ADDRESS | --data DIR)
    zkmatch trader state (--receipt FILE | --receipts DIR --account N) [--key trader.key]
                         (--rpc-url URL --rollup ADDRESS | --data DIR)
    zkmatch trader deposit AMOUNT --key trader.key [--units] [--mint]
                           (--rpc-url URL --rollup ADDRESS | --data DIR)
    zkmatch trader withdraw AMOUNT --key trader.key --account N [--to ADDRESS] [--units]
                            [--nonce N | --receipts DIR]
                            (--rpc-url URL --rollup ADDRESS | --data DIR)
    zkmatch trader claim --key trader.key [--to ADDRESS]
    zkmatch trader freeze --key trader.key (--rpc-url URL --rollup ADDRESS | --data DIR)
    zkmatch trader refund-deposits --key trader.key [--number N ...]
                                   (--rpc-url URL --rollup ADDRESS | --data DIR)
                         (--rpc-url URL --rollup ADDRESS | --data DIR)

An order is checked against the Rollup's markets before it is signed, encrypted to the
operator's key and sent from the key file's own Ethereum account. ``trader state`` reads
an operator's receipt, recomputes the account leaf and root and checks that root against
the one the Rollup accepted for the receipt's batch. Docs: docs/trader.md.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cli.output import emit, json_option, progress
from prover.trader.flows import (
    claim_exits,
    deposit_collateral,
    freeze_rollup,
    parse_amount,
    refund_deposits,
    withdraw_collateral,
)
from prover.trader.keys import SEED_WARNING, load_trader_key, new_trader_key
from prover.trader.send import CancelArgs, OrderArgs, place_cancel, place_order
from prover.trader.state import resolve_receipt, trader_state

F = TypeVar("F", bound=Callable[..., Any])


def _venue_options(func: F) -> F:
    """--rpc-url, --rollup, --data and --json: where the Rollup is."""
    for option in reversed((
        click.option("--rpc-url", default=None, envvar="ZKMATCH_RPC_URL",
                     help="EVM JSON-RPC node (also $ZKMATCH_RPC_URL); with --data it "
                     "overrides the deployment's."),
        click.option("--rollup", default=None, envvar="ZKMATCH_ROLLUP", metavar="ADDRESS",
                     help="The Rollup's address (also $ZKMATCH_ROLLUP)."),
        click.option("--data", "data_dir", default=None,
                     type=click.Path(file_okay=False, exists=True, path_type=Path),
                     help="An operator's data folder instead: node, Rollup and the state's "
                     "shape (account and slot bits) from there (development)."),
        json_option,
    )):
        func = option(func)
    return func


def _chain_options(func: F) -> F:
    """The venue options and --out (an inbox message written to a file, not sent)."""
    func = click.option("--out", "out", default=None,
                        type=click.Path(dir_okay=False, path_type=Path),
                        help="Write the encrypted message here as JSON and send nothing.")(func)
    return _venue_options(func)


def _key_option(func: F) -> F:
    return click.option(
        "--key", "key_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
        help="The trader's key file (`zkmatch trader keygen`).",
    )(func)


@click.group("trader")
def command() -> None:
    """A trader: a key file, and orders and cancels encrypted to the operator."""


@command.command("keygen")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="New key file (mode 0600).")
@click.option("--seed", default=None, metavar="TEXT",
              help="DEVELOPMENT ONLY: derive both keys from TEXT (anyone who knows it has "
              "the keys).")
@click.option("--force", is_flag=True, help="Overwrite an existing key file (its keys are lost).")
@click.option("--show-private", is_flag=True, help="Also print the private keys.")
@json_option
def keygen(out: Path, seed: str | None, force: bool, show_private: bool, as_json: bool) -> None:
    """Make a trader key file: the account key (Baby Jubjub) that signs orders, and a
    separate Ethereum key that pays for sending them. Prints the public key and the
    sending address, never a private key unless --show-private."""
    if seed is not None:
        progress(f"WARNING: {SEED_WARNING}")
    key = new_trader_key(out, seed=seed, force=force)
    result: dict[str, Any] = {"key_file": str(out), **key.public_json(),
                              "development_seed": key.development_seed}
    if show_private:
        progress("WARNING: private keys printed below; anyone who sees them owns the account")
        result.update(key.private_json())

    def human(r: dict[str, Any]) -> str:
        lines = [
            f"trader key written to {r['key_file']}",
            f"public key      {r['public_key'][0]}",
            f"                {r['public_key'][1]}",
            f"sending address {r['eth_address']} (pays for sendMessage; fund it)",
        ]
        if show_private:
            lines += [f"account private key {r['babyjub_private_key']}",
                      f"sending private key {r['eth_private_key']}"]
        return "\n".join(lines)

    emit(result, as_json, human)


def _sent_lines(r: dict[str, Any]) -> list[str]:
    if not r["sent"]:
        return [f"  encrypted to the operator; message written to {r['out']} (not sent)"]
    return [
        f"  message index {r['index']}, inbox chain after it {r['inbox_chain']}",
        f"  tx {r['tx_hash']} (block {r['block']}, gas {r['gas_used']:,}) from {r['sender']}",
    ]


@command.command("order")
@_key_option
@click.option("--account", type=int, required=True, help="Your account's index.")
@click.option("--market", type=int, required=True, help="Market id (0, 1, ...).")
@click.option("--side", required=True, metavar="buy|sell")
@click.option("--price", type=int, required=True, help="Limit price in quote units per lot "
              "(a multiple of the market's tick).")
@click.option("--size", type=int, required=True, help="Lots.")
@click.option("--order-id", type=int, required=True, help="Your order id; slot = id mod 2^S, "
              "a larger id replaces the slot's order.")
@click.option("--expiry", required=True, metavar="UNIX_TIME|+SECONDS",
              help="Last batch time the order may enter (+SECONDS: from now).")
@click.option("--max-fee", "max_fee", type=int, default=None, metavar="PPM",
              help="Fee cap in ppm (default: the market's highest fee rate).")
@click.option("--tif", default="gtc", show_default=True, metavar="gtc|ioc|post-only")
@_chain_options
def order_command(
    key_file: Path, account: int, market: int, side: str, price: int, size: int,
    order_id: int, expiry: str, max_fee: int | None, tif: str, rpc_url: str | None,
    rollup: str | None, data_dir: Path | None, out: Path | None, as_json: bool,
) -> None:
    """Check, sign and encrypt an order and send it to the Rollup's inbox."""
    key = load_trader_key(key_file)
    args = OrderArgs(account, market, side, price, size, order_id, expiry, tif, max_fee)
    result = place_order(key, args, rpc_url=rpc_url, rollup=rollup, data_dir=data_dir, out=out)

    def human(r: dict[str, Any]) -> str:
        o = r["order"]
        side_name = "buy" if o["side"] == "0" else "sell"
        tif_name = ("gtc", "ioc", "post-only")[int(o["tif"])]
        return "\n".join([
            f"order {o['order_id']}: account {o['account']} {side_name} {o['size']} lots of "
            f"market {o['market']} at {o['price']}, {tif_name}, expiry {o['expiry']}, "
            f"max fee {o['max_fee_ppm']} ppm",
            *_sent_lines(r),
        ])

    emit(result, as_json, human)


@command.command("cancel")
@_key_option
@click.option("--account", type=int, required=True, help="Your account's index.")
@click.option("--order-id", type=int, required=True, help="The order to cancel.")
@click.option("--cancel-id", type=int, default=None,
              help="The cancel's own id (default: order id + 2^S, the next id of that slot).")
@click.option("--slot-bits", type=int, default=None, metavar="S",
              help="The venue's S (order slots per account 2^S); --data knows it.")
@_chain_options
def cancel_command(
    key_file: Path, account: int, order_id: int, cancel_id: int | None,
    slot_bits: int | None, rpc_url: str | None, rollup: str | None, data_dir: Path | None,
    out: Path | None, as_json: bool,
) -> None:
    """Sign and encrypt a cancel of an order and send it to the Rollup's inbox."""
    key = load_trader_key(key_file)
    args = CancelArgs(account, order_id, cancel_id, slot_bits)
    result = place_cancel(key, args, rpc_url=rpc_url, rollup=rollup, data_dir=data_dir, out=out)

    def human(r: dict[str, Any]) -> str:
        c = r["cancel"]
        return "\n".join([
            f"cancel of order {r['cancels_order_id']}: account {c['account']}, cancel id "
            f"{c['order_id']}",
            *_sent_lines(r),
        ])

    emit(result, as_json, human)


def _state_lines(r: dict[str, Any]) -> list[str]:
    def market(x: dict[str, Any]) -> str:
        return str(x["market_name"])

    chain = r["chain"]
    lines = [
        f"account {r['account']} after batch {r['batch']}: verified on chain (root "
        f"{r['root']}, accepted in block {r['block']}, tx {r['tx_hash']})",
        "  current: yes, the Rollup's root is still this one" if r["current"] else
        f"  current: no, the Rollup has moved on (next batch {chain['batch_number']}, root "
        f"{chain['root']}); a later batch may have changed this account",
        f"  collateral {r['collateral']}",
        "  positions: " + "; ".join(
            f"{market(p)} {int(p['size']):+d} (funding index {p['funding_index']})"
            for p in r["positions"]),
    ]
    orders = r["open_orders"]
    lines.append(f"  open orders: {len(orders) or 'none'}")
    lines += [
        f"    order {o['order_id']} (slot {o['slot']}): {o['side']} {o['size']} {market(o)} at "
        f"{o['price']}, filled {o['filled']}, remaining {o['remaining']}, {o['tif']}, expiry "
        f"{o['expiry']}"
        for o in orders
    ]
    lines.append(f"  fills in batch {r['batch']}: {len(r['fills']) or 'none'}")
    lines += [
        f"    {f['role']} ({f['side']}) {f['qty']} {market(f)} at {f['price']}, fee {f['fee']}, "
        f"order {f['order_id']} against account {f['counterparty']}"
        for f in r["fills"]
    ]
    if r["key_checked"]:
        lines.append("  the leaf's public key is this key file's")
    return lines


@command.command("state")
@click.option("--receipt", "receipt", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="A receipt file from the operator.")
@click.option("--receipts", "receipts_dir", default=None,
              type=click.Path(file_okay=False, path_type=Path),
              help="A folder of receipts, one folder per account (DIR/<N>/latest.json); "
              "with --data, default DATA/receipts.")
@click.option("--account", type=int, default=None, help="Your account's index.")
@click.option("--key", "key_file", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Also check that the account's public key is this key file's.")
@click.option("--rpc-url", default=None, envvar="ZKMATCH_RPC_URL",
              help="EVM JSON-RPC node (also $ZKMATCH_RPC_URL); with --data it overrides the "
              "deployment's.")
@click.option("--rollup", default=None, envvar="ZKMATCH_ROLLUP", metavar="ADDRESS",
              help="The Rollup you trust (also $ZKMATCH_ROLLUP); the receipt's must be it.")
@click.option("--data", "data_dir", default=None,
              type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="An operator's data folder instead: node and Rollup from there "
              "(development).")
@json_option
def state_command(
    receipt: Path | None, receipts_dir: Path | None, account: int | None,
    key_file: Path | None, rpc_url: str | None, rollup: str | None, data_dir: Path | None,
    as_json: bool,
) -> None:
    """Your account from an operator's receipt: collateral, positions, open orders and this
    batch's fills, with the Merkle path checked against the root the Rollup accepted."""
    key = load_trader_key(key_file) if key_file is not None else None
    path = resolve_receipt(receipt, receipts_dir, account, data_dir)
    result = trader_state(path, account=account, key=key, rpc_url=rpc_url, rollup=rollup,
                          data_dir=data_dir)
    emit(result, as_json, lambda r: "\n".join(_state_lines(r)))



@command.command("deposit")
@click.argument("amount")
@_key_option
@click.option("--units", is_flag=True, help="AMOUNT is in token units (10^-6 USDC), not tokens.")
@click.option("--mint", is_flag=True, help="DEVELOPMENT ONLY: mint the tokens first (the "
              "mock USDC lets anyone mint).")
@_venue_options
def deposit_command(
    amount: str, key_file: Path, units: bool, mint: bool, rpc_url: str | None,
    rollup: str | None, data_dir: Path | None, as_json: bool,
) -> None:
    """Bring AMOUNT of collateral (USDC, 6 decimals) into the venue: approve the Rollup and
    deposit under the key file's account key. A new key gets the next free account; the
    next batches credit the deposit (or refund it to the sending address)."""
    key = load_trader_key(key_file)
    if mint:
        progress("WARNING: minting development tokens (the mock USDC; no real token mints)")
    result = deposit_collateral(key, parse_amount(amount, units=units), rpc_url=rpc_url,
                                rollup=rollup, data_dir=data_dir, mint=mint)

    def human(r: dict[str, Any]) -> str:
        new = "a new account" if r["new_account"] else "your account"
        return "\n".join([
            f"deposit {r['number']}: {r['amount']} units to account {r['account']} ({new}), "
            f"queued ({r['queued']} waiting for a batch)",
            f"  from {r['depositor']} (a refund would go there), token {r['token']}",
            f"  tx {r['tx_hash']} (block {r['block']}, gas {r['gas_used']:,})",
        ])

    emit(result, as_json, human)


@command.command("claim")
@_key_option
@click.option("--to", "recipient", default=None, metavar="ADDRESS",
              help="Claim for this address (default: the key file's sending address); the "
              "tokens go to it whoever sends the claim.")
@_venue_options
def claim_command(
    key_file: Path, recipient: str | None, rpc_url: str | None, rollup: str | None,
    data_dir: Path | None, as_json: bool,
) -> None:
    """Take out what accepted exits owe an address (refunded deposits; withdrawals), once."""
    key = load_trader_key(key_file)
    result = claim_exits(key, recipient, rpc_url=rpc_url, rollup=rollup, data_dir=data_dir)
    emit(result, as_json, lambda r: (
        f"claimed {r['amount']} units for {r['recipient']} (balance {r['balance_before']} -> "
        f"{r['balance_after']}); tx {r['tx_hash']} (block {r['block']}, gas {r['gas_used']:,})"
    ))


@command.command("withdraw")
@click.argument("amount")
@_key_option
@click.option("--account", type=int, required=True, help="Your account's index.")
@click.option("--to", "recipient", default=None, metavar="ADDRESS",
              help="Where the tokens go (default: the key file's sending address).")
@click.option("--units", is_flag=True, help="AMOUNT is in token units (10^-6 USDC), not tokens.")
@click.option("--nonce", type=int, default=None,
              help="The account's nonce (default: from its latest receipt, checked on chain).")
@click.option("--receipts", "receipts_dir", default=None,
              type=click.Path(file_okay=False, path_type=Path),
              help="Where your receipts are (DIR/<N>/latest.json); with --data, DATA/receipts.")
@_venue_options
def withdraw_command(
    amount: str, key_file: Path, account: int, recipient: str | None, units: bool,
    nonce: int | None, receipts_dir: Path | None, rpc_url: str | None, rollup: str | None,
    data_dir: Path | None, as_json: bool,
) -> None:
    """Ask for AMOUNT of your collateral back: a withdrawal signed by the account key and
    encrypted to the operator, sent to the inbox. The next batch pays it (then `zkmatch
    trader claim`) if the account keeps its initial margin after it."""
    key = load_trader_key(key_file)
    result = withdraw_collateral(
        key, account, parse_amount(amount, units=units), recipient=recipient, nonce=nonce,
        receipts_dir=receipts_dir, rpc_url=rpc_url, rollup=rollup, data_dir=data_dir,
    )

    def human(r: dict[str, Any]) -> str:
        w = r["withdrawal"]
        return "\n".join([
            f"withdrawal of {w['amount']} units from account {w['account']} to "
            f"{w['recipient']}, nonce {w['nonce']} ({r['nonce_from']})",
            *_sent_lines(r),
        ])

    emit(result, as_json, human)


@command.command("freeze")
@_key_option
@_venue_options
def freeze_command(
    key_file: Path, rpc_url: str | None, rollup: str | None, data_dir: Path | None,
    as_json: bool,
) -> None:
    """Freeze the Rollup: an inbox message or a deposit waited past the forced delay (the
    operator did not serve it). Anyone may; refused while nothing is overdue."""
    result = freeze_rollup(load_trader_key(key_file), rpc_url=rpc_url, rollup=rollup,
                           data_dir=data_dir)
    emit(result, as_json, lambda r: (
        f"the Rollup is frozen after batch {r['batch_number'] - 1} at root {r['root']} "
        f"(inbox consumed {r['inbox_consumed']}, deposits consumed {r['deposits_consumed']}); "
        f"tx {r['tx_hash']}"
    ))


@command.command("refund-deposits")
@_key_option
@click.option("--number", "numbers", type=int, multiple=True,
              help="Only these deposits (repeat; default: every one no batch consumed).")
@_venue_options
def refund_deposits_command(
    key_file: Path, numbers: tuple[int, ...], rpc_url: str | None, rollup: str | None,
    data_dir: Path | None, as_json: bool,
) -> None:
    """In the frozen mode: every deposit no batch consumed back to its depositor (then
    `zkmatch trader claim`). Anyone may send it."""
    result = refund_deposits(load_trader_key(key_file), numbers=list(numbers) or None,
                             rpc_url=rpc_url, rollup=rollup, data_dir=data_dir)
    emit(result, as_json, lambda r: "\n".join(
        [f"refunded {len(r['refunded'])} deposits"]
        + [f"  deposit {d['number']}: {d['amount']} to {d['depositor']}" for d in r["refunded"]]
    ))
