#!/usr/bin/env python3
"""Benchmark the batch builder: time and Poseidon hashes per fill (docs/batch-witness.md).

Two scenarios at account depth ``--account-bits`` (default 32, production size):

- ``spread``: every fill joins a fresh taker account (one IOC entry) and a fresh
  maker account (an order resting from an earlier batch), so each fill opens two
  accounts: the worst case per fill.
- ``dense``: one taker order sweeps ``--fills`` resting orders of one maker
  account: the marginal cost of a fill (two order-slot writes).

Phases are timed separately: ``entries`` (checks, signature verification, pre-trade
margin), ``fills`` (rules and margin; no hashing), ``seal`` (the replay in circuit
order: every Merkle write and opening of the witness) and ``inputs``
(``as_circuit_inputs()``). Signing is the traders' work and is not timed. Hashes are
counted by wrapping ``poseidon`` where the model calls it (leaves/orders/params in
``prover.exchange.domain``, tree nodes in ``prover.merkle``, the signature challenge in
``prover.crypto.eddsa``).

    .venv/bin/python scripts/bench_batch.py [--json] [--fills 16] [--account-bits 32]
        [--slot-bits 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import prover.crypto.eddsa as eddsa_module  # noqa: E402
import prover.exchange.domain as domain_module  # noqa: E402
import prover.merkle as merkle_module  # noqa: E402
from prover.crypto import eddsa, poseidon  # noqa: E402
from prover.exchange.batch import BatchBuilder  # noqa: E402
from prover.exchange.constants import SIDE_BUY, SIDE_SELL, TIF_GTC, TIF_IOC  # noqa: E402
from prover.exchange.domain import (  # noqa: E402
    BatchConfig,
    Market,
    Order,
    OrderSlot,
    PriceSet,
    SignedOrder,
)
from prover.exchange.state import ExchangeState  # noqa: E402
from prover.exchange.venue import development_venue  # noqa: E402

MARKETS = (Market(0, 1, 1000, 500, 200, 500), Market(1, 1, 2000, 1000, 0, 1000))
VENUE, FEED = development_venue(MARKETS)
PARAMS = PriceSet(7, 1_700_000_000, (100, 50), (3, -2)).signed(FEED)
EXPIRY = 1_800_000_000


class HashCounter:
    """Counts Poseidon calls by the module that makes them."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._saved: list[tuple[Any, Callable[..., int]]] = []

    def _wrap(self, kind: str) -> Callable[..., int]:
        counts = self.counts

        def counting(inputs: Any, init_state: int = 0) -> int:
            counts[kind] += 1
            return poseidon(inputs, init_state=init_state)

        return counting

    def __enter__(self) -> HashCounter:
        for module, kind in (
            (domain_module, "leaf"),
            (merkle_module, "node"),
            (eddsa_module, "signature"),
        ):
            self._saved.append((module, module.poseidon))
            module.poseidon = self._wrap(kind)  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        for module, original in self._saved:
            module.poseidon = original
        self._saved.clear()

    def take(self) -> dict[str, int]:
        out = dict(self.counts)
        out["total"] = sum(self.counts.values())
        self.counts.clear()
        return out


def _index(i: int, account_bits: int) -> int:
    """Spread account indices over the tree so that their paths share little."""
    return (2 + i * 0x9E3779B1) % (1 << account_bits) or 2


def setup(scenario: str, fills: int, account_bits: int, slot_bits: int) -> tuple[Any, ...]:
    keys = [eddsa.PrivateKey.from_seed(f"bench-batch-{i}") for i in range(2)]
    state = ExchangeState(MARKETS, account_bits, slot_bits, venue=VENUE)
    entries: list[SignedOrder] = []
    pairs: list[tuple[Any, Any, int]] = []
    used: set[int] = {0, 1}

    def new_account(i: int, key: eddsa.PrivateKey) -> int:
        index = _index(i, account_bits)
        while index in used:
            index = (index + 1) % (1 << account_bits)
        used.add(index)
        state.create_account(index, key.public_key, 10**12)
        return index

    def rest(account: int, order_id: int, size: int) -> Order:
        order = Order(account, 0, SIDE_SELL, 100, size, order_id, EXPIRY, 1000, TIF_GTC)
        slot_no = order.slot(slot_bits)
        state.set_slot(account, slot_no, OrderSlot(order_id, order.hash(), 0, 5), order)
        return order

    if scenario == "spread":
        for f in range(fills):
            maker = rest(new_account(2 * f, keys[0]), 1, 10)
            taker_account = new_account(2 * f + 1, keys[1])
            taker = Order(taker_account, 0, SIDE_BUY, 100, 10, 1, EXPIRY, 1000, TIF_IOC)
            entries.append(SignedOrder.sign(taker, keys[1]))
            pairs.append((taker.ref, maker.ref, 10))
        config = BatchConfig(account_bits, slot_bits, 2, 2 + 2 * fills, fills, fills)
    else:
        if fills >= 1 << slot_bits:
            raise SystemExit(f"dense needs --fills < 2^slot_bits = {1 << slot_bits}")
        maker_account = new_account(0, keys[0])
        makers = [rest(maker_account, 1 + f, 10) for f in range(fills)]
        taker = Order(
            new_account(1, keys[1]), 0, SIDE_BUY, 100, 10 * fills, 1, EXPIRY, 1000, TIF_IOC
        )
        entries.append(SignedOrder.sign(taker, keys[1]))
        pairs = [(taker.ref, m.ref, 10) for m in makers]
        config = BatchConfig(account_bits, slot_bits, 2, 4, 1, fills)
    return state, config, entries, pairs


def run_once(
    state: ExchangeState,
    config: BatchConfig,
    entries: list[SignedOrder],
    pairs: list[tuple[Any, Any, int]],
) -> dict[str, Any]:
    with HashCounter() as counter:
        t0 = time.perf_counter()
        builder = BatchBuilder(state, config, PARAMS)
        for entry in entries:
            entry.order.__dict__.pop("_hash", None)  # count the order hash as the operator pays it
            builder.add_entry(entry)
        t1 = time.perf_counter()
        h_entries = counter.take()
        for taker, maker, qty in pairs:
            builder.add_fill(taker, maker, qty)
        t2 = time.perf_counter()
        h_fills = counter.take()
        result = builder.seal()
        t3 = time.perf_counter()
        h_seal = counter.take()
        inputs = result.witness.as_circuit_inputs()
        t4 = time.perf_counter()
    return {
        "seconds": {
            "entries": t1 - t0,
            "fills": t2 - t1,
            "seal": t3 - t2,
            "inputs": t4 - t3,
            "total": t4 - t0,
        },
        "hashes": {"entries": h_entries, "fills": h_fills, "seal": h_seal},
        "accounts_opened": sum(1 for u in inputs["accUsed"] if u == "1"),
        "witness_json_bytes": len(json.dumps(inputs)),
    }


def bench(
    scenario: str, fills: int, account_bits: int, slot_bits: int, repeats: int
) -> dict[str, Any]:
    state, config, entries, pairs = setup(scenario, fills, account_bits, slot_bits)
    runs = [run_once(state, config, entries, pairs) for _ in range(repeats)]
    best = min(runs, key=lambda r: r["seconds"]["total"])
    seal_hashes = best["hashes"]["seal"]["total"]
    total_hashes = sum(h["total"] for h in best["hashes"].values())
    return {
        "scenario": scenario,
        "account_bits": account_bits,
        "slot_bits": slot_bits,
        "markets": len(MARKETS),
        "fills": fills,
        "entries": len(entries),
        "config": config.as_circuit_params(),
        **best,
        "per_fill": {
            "ms_total": 1000 * best["seconds"]["total"] / fills,
            "ms_seal": 1000 * best["seconds"]["seal"] / fills,
            "hashes_total": total_hashes / fills,
            "hashes_seal": seal_hashes / fills,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--fills", type=int, default=16)
    parser.add_argument("--account-bits", type=int, default=32)
    parser.add_argument("--slot-bits", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = [
        bench(s, args.fills, args.account_bits, args.slot_bits, args.repeats)
        for s in ("spread", "dense")
    ]
    report = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "results": results,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for r in results:
        s, pf = r["seconds"], r["per_fill"]
        print(
            f"{r['scenario']:>6}: D={r['account_bits']} S={r['slot_bits']} {r['fills']} fills, "
            f"{r['entries']} entries, {r['accounts_opened']} accounts: "
            f"entries {s['entries']:.3f}s fills {s['fills']:.3f}s seal {s['seal']:.3f}s "
            f"inputs {s['inputs']:.3f}s | per fill {pf['ms_total']:.1f} ms, "
            f"{pf['hashes_total']:.1f} Poseidon ({pf['hashes_seal']:.1f} in seal)"
        )
        print(f"        hashes {r['hashes']}")


if __name__ == "__main__":
    main()
