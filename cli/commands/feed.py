"""``zkmatch feed``: the price feed's key and its signed price sets.

    zkmatch feed keygen --out feed.key              # prints the public key, never the private
    zkmatch feed sign --key feed.key --mark 30000000 --mark 20000000 [--funding 0 ...]
                      [--timestamp T] [--out prices.json]

Docs: docs/operator.md ("The price feed").
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from cli.output import emit, json_option
from prover.errors import ProtocolError, ZkmatchError
from prover.feed import load_feed_key, new_feed_key, sign_prices, write_price_set


@click.group("feed")
def command() -> None:
    """The price feed: a key file and the price sets it signs."""


@command.command("keygen")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="New key file (mode 0600; never overwritten).")
@json_option
def keygen(out: Path, as_json: bool) -> None:
    """Make a feed key; prints its public key (register it with `zkmatch deploy
    --feed-key`)."""
    key = new_feed_key(out)
    x, y = key.public_key
    emit({"key_file": str(out), "public_key": [str(x), str(y)]}, as_json,
         lambda r: f"feed key written to {r['key_file']}\npublic key {r['public_key'][0]}\n"
                   f"           {r['public_key'][1]}")


@command.command("sign")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="The feed's key file.")
@click.option("--mark", "marks", type=int, multiple=True, required=True,
              help="Mark price of each market, in market order (repeat).")
@click.option("--funding", "funding", type=int, multiple=True,
              help="Cumulative funding index of each market (repeat; default 0 each).")
@click.option("--timestamp", type=int, default=None, help="Unix seconds (default: now).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the price file here (default: print it).")
def sign(key_file: Path, marks: tuple[int, ...], funding: tuple[int, ...],
         timestamp: int | None, out: Path | None) -> None:
    """Sign a price set (marks and funding indices for a time)."""
    if funding and len(funding) != len(marks):
        raise click.UsageError(f"{len(marks)} --mark but {len(funding)} --funding")
    key = load_feed_key(key_file)
    try:
        prices = sign_prices(key, marks, funding or None, timestamp=timestamp)
    except ProtocolError as exc:
        raise ZkmatchError(f"cannot sign these prices: {exc}") from exc
    if out is None:
        click.echo(json.dumps(prices.to_json(), indent=1))
    else:
        write_price_set(out, prices)
        click.echo(f"price set for t={prices.timestamp} written to {out}", err=True)
