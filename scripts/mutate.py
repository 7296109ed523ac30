"""Mutation testing of the circuits: remove or weaken one constraint at a time, run its tests.

For every mutant of ``circuits/lib/*.circom`` and ``circuits/main/Batch.circom``
(tests/circuits/mutants.py: ``drop`` a ``===``, ``unpin`` a ``<==`` into ``<-- e + 1``,
perturb a ``hint``, ``widen`` a range check by one bit) this writes the mutated copy of
``circuits/`` under build/mutants/ and runs the tests against it (``ZKMATCH_CIRCUITS_DIR``;
``ZKMATCH_MUTATION=1`` turns off the documented-count assertions, which every mutant would
fail): first the tests of the mutated template, then, if none failed, the batch's. A mutant
is *killed* when a test fails, *survives* when none does, and is *invalid* when it does not
compile (an ``unpin`` of an array, say). Every survivor must be explained as harmless in
docs/circuits.md ("Mutation testing"), which lists them with their reasons.

    .venv/bin/python scripts/mutate.py --list                  # the mutants, no run
    .venv/bin/python scripts/mutate.py --file lib/FeeFloor.circom
    .venv/bin/python scripts/mutate.py                         # all (hours: make mutate)
    .venv/bin/python scripts/mutate.py --check-hints           # every <-- says what pins it

Results go to build/mutation/results.jsonl, one line per mutant, keyed by its id and the
hash of the circuit sources, so a run that is stopped resumes where it was (``--fresh``
starts over). ``--json`` prints the summary as JSON. Progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.circuits import mutants  # noqa: E402

RESULTS = ROOT / "build" / "mutation" / "results.jsonl"
PYTEST = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slow"]

#: The batch's own tests, in the order they are run (the fastest killers first: honest
#: batches and their public inputs, then the freedom check, then the inbox's no-ops and
#: cheats, then the tampers).
BATCH_TESTS = (
    "tests/circuits/test_batch.py",
    "tests/circuits/test_freedom.py",
    "tests/circuits/test_batch_inbox.py",
    "tests/circuits/test_batch_tampers.py",
    "tests/circuits/test_batch_gaps.py",
    "tests/circuits/test_taker_once.py",
    "tests/circuits/test_batch_property.py",
)

#: Each template's own tests (a template not listed is only exercised through Batch).
OWN_TESTS: dict[str, tuple[str, ...]] = {
    "lib/AccountLeaf.circom": ("test_leaves.py",),
    "lib/BookCapWrite.circom": ("test_book.py",),
    "lib/BookHeader.circom": ("test_book.py",),
    "lib/BookInsert.circom": ("test_book.py",),
    "lib/BookLeaf.circom": ("test_book.py",),
    "lib/BookPop.circom": ("test_book.py",),
    "lib/BookRoot.circom": ("test_book_state.py",),
    "lib/BookSideSelect.circom": ("test_book_state.py",),
    "lib/EntryMatch.circom": ("test_entry_match.py",),
    "lib/EntryBook.circom": ("test_entry_book.py",),
    "main/BatchBook.circom": (
        "test_batch_deposits.py",
        "test_batch_withdrawals.py",
        "test_batch_book_rules.py",
        "test_batch_book.py",
        "test_freedom_book.py",
        "test_batch_book_tampers.py",
        "test_book_builder.py",
    ),
    "lib/HeadSlot.circom": ("test_head_slot.py",),
    "lib/BatchParams.circom": ("test_batch_params.py",),
    "lib/FeeFloor.circom": ("test_fees.py",),
    "lib/FillCheck.circom": ("test_fill_check.py",),
    "lib/FundingPayment.circom": ("test_fees.py",),
    "lib/InboxChainStep.circom": ("test_inbox_message.py",),
    "lib/CofactorEcdh.circom": ("test_inbox_message.py",),
    "lib/PoseidonDecrypt3.circom": ("test_inbox_message.py",),
    "lib/PointFromY.circom": ("test_inbox_message.py",),
    "lib/DepositEntry.circom": ("test_deposit_entry.py", "test_batch_deposits.py"),
    "lib/WithdrawEntry.circom": ("test_withdraw_entry.py", "test_batch_withdrawals.py"),
    "lib/EdDSAPoseidonValid.circom": ("test_message_entry.py",),
    "lib/InboxMessage.circom": ("test_inbox_message.py",),
    "lib/MessageEntry.circom": ("test_message_entry.py",),
    "lib/IsNonNegative.circom": ("test_ranges.py", "test_margin.py"),
    "lib/MarginCheck.circom": ("test_margin.py",),
    "lib/MarginBit.circom": ("test_margin_bit.py",),
    "lib/OnCurveIfEnabled.circom": ("test_order_entry.py", "test_pubkey_check.py"),
    "lib/OneHot.circom": ("test_selectors.py",),
    "lib/OrderEntry.circom": ("test_order_entry.py",),
    "lib/OrderHash.circom": ("test_leaves.py",),
    "lib/PositionsHash.circom": ("test_leaves.py",),
    "lib/PubKeyCheck.circom": ("test_pubkey_check.py",),
    "lib/QuadChildren.circom": ("test_quad_merkle.py",),
    "lib/QuadDigit.circom": ("test_quad_merkle.py",),
    "lib/QuadMerkleRoot.circom": ("test_quad_merkle.py",),
    "lib/QuadMerkleUpdate.circom": ("test_quad_merkle.py",),
    "lib/SelectOne.circom": ("test_selectors.py",),
    "lib/SignedRange.circom": ("test_ranges.py",),
    "lib/SlotLeaf.circom": ("test_leaves.py",),
    "lib/UnsignedRange.circom": ("test_ranges.py",),
}

#: Templates the batch does not use (any more): no batch stage for their mutants. Since the
#: batch consumes the inbox (docs/inbox.md), InboxMessage and MessageEntry (and their parts)
#: replace OrderEntry. (PubKeyCheck, the price feed's key check in BatchParams, is in the
#: batch.)
NOT_IN_BATCH = {
    "lib/OrderEntry.circom",
    # The committed book (docs/book.md) is in BatchBook, not in Batch: its templates have no
    # Batch stage; their own tests (and BatchBook's, above) are what kill their mutants.
    "lib/BookCapWrite.circom",
    "lib/BookHeader.circom",
    "lib/BookInsert.circom",
    "lib/BookLeaf.circom",
    "lib/BookPop.circom",
    "lib/EntryMatch.circom",
    "lib/EntryBook.circom",
    "main/BatchBook.circom",
    "lib/DepositEntry.circom",
    "lib/WithdrawEntry.circom",
    "lib/HeadSlot.circom",
    "lib/MarginBit.circom",
    "lib/BookRoot.circom",
    "lib/BookSideSelect.circom",
}


def run_tests(sources: Path, tests: list[str], timeout: int) -> tuple[str, str]:
    """("killed" | "survived" | "invalid", the first failing test's id or circom's error)."""
    env = {**os.environ, "ZKMATCH_CIRCUITS_DIR": str(sources), "ZKMATCH_MUTATION": "1"}
    try:
        proc = subprocess.run(
            [*PYTEST, *tests], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired:
        return "killed", f"timeout after {timeout} s"
    if proc.returncode == 0:
        return "survived", ""
    if "circom failed for" in proc.stdout:
        error = re.search(r"error\[\w+\]: ([^\n]*)", proc.stdout)
        return "invalid", "does not compile: " + (error.group(1) if error else "circom error")
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, re.M)
    return "killed", failed[0] if failed else proc.stdout[-300:]


def evaluate(m: mutants.Mutant, timeout: int) -> dict:
    sources = mutants.apply(m.mutation, sources=mutants.CIRCUITS)
    start = time.monotonic()
    record = {
        "id": m.id,
        "file": m.file,
        "line": m.line,
        "operator": m.operator,
        "statement": m.statement,
        "mutated": " ".join(m.mutation.new.split()),
    }
    stages = []
    own = [f"tests/circuits/{t}" for t in OWN_TESTS.get(m.file, ())]
    if own:
        stages.append(own)
    if m.file not in NOT_IN_BATCH:
        stages.append(list(BATCH_TESTS))
    status, by = "survived", ""
    for tests in stages:
        status, by = run_tests(sources, tests, timeout)
        if status != "survived":
            break
    return {**record, "status": status, "by": by, "seconds": round(time.monotonic() - start, 1)}


def summary(results: list[dict]) -> dict:
    valid = [r for r in results if r["status"] != "invalid"]
    killed = [r for r in valid if r["status"] == "killed"]
    by_file: dict[str, dict[str, int]] = {}
    for r in results:
        entry = by_file.setdefault(r["file"], {"killed": 0, "survived": 0, "invalid": 0})
        entry[r["status"]] += 1
    return {
        "mutants": len(results),
        "valid": len(valid),
        "killed": len(killed),
        "survived": len(valid) - len(killed),
        "invalid": len(results) - len(valid),
        "score": round(len(killed) / len(valid), 4) if valid else None,
        "by_file": by_file,
        "survivors": [r for r in valid if r["status"] == "survived"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", action="append", help="a file under circuits/ (repeatable)")
    parser.add_argument("--operator", action="append", choices=mutants.OPERATORS)
    parser.add_argument("--id", action="append", help="only this mutant id (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--check-hints", action="store_true", help="check <-- comments only")
    parser.add_argument("--limit", type=int, help="at most this many mutants (a sample)")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per test stage")
    parser.add_argument("--fresh", action="store_true", help="ignore earlier results")
    parser.add_argument("--survivors", action="store_true", help="re-run earlier survivors")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1)")
    parser.add_argument("--report", action="store_true", help="summarise results, run nothing")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--markdown", action="store_true", help="print the per-file table for docs/circuits.md"
    )
    args = parser.parse_args()

    if args.check_hints:
        problems = mutants.check_hints()
        for p in problems:
            print(p)
        print(f"{len(problems)} hint(s) without a pinning comment", file=sys.stderr)
        return 1 if problems else 0

    todo = mutants.all_sites(args.file)
    if args.operator:
        todo = [m for m in todo if m.operator in args.operator]
    if args.id:
        todo = [m for m in todo if m.id in args.id]
    if args.limit:
        todo = todo[: args.limit]
    if args.list:
        for m in todo:
            print(f"{m.id:40} {m.statement[:70]}  =>  {' '.join(m.mutation.new.split())[:60]}")
        print(f"{len(todo)} mutants", file=sys.stderr)
        return 0

    version = mutants.sources_fingerprint()
    done: dict[str, dict] = {}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if RESULTS.exists() and not args.fresh:
        for line in RESULTS.read_text().splitlines():
            r = json.loads(line)
            if r.get("sources") == version:
                done[r["id"]] = r
    if args.survivors:
        todo = [m for m in todo if done.get(m.id, {}).get("status") == "survived"]
        for m in todo:
            done.pop(m.id)
    results = [done[m.id] for m in todo if m.id in done]
    pending = [] if args.report else [m for m in todo if m.id not in done]
    if args.report and len(results) < len(todo):
        print(f"{len(todo) - len(results)} of {len(todo)} mutants not run yet", file=sys.stderr)
    with RESULTS.open("a") as out, ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(evaluate, m, args.timeout): m for m in pending}
        for n, future in enumerate(as_completed(futures), len(results) + 1):
            m = futures[future]
            r = future.result()
            r["sources"] = version
            out.write(json.dumps(r) + "\n")
            out.flush()
            results.append(r)
            print(
                f"[{n}/{len(todo)}] {r['status']:8} {m.id} line {m.line} ({r['seconds']} s) "
                f"{r['by'][:70]}",
                file=sys.stderr,
                flush=True,
            )
    s = summary(results)
    if args.json:
        print(json.dumps(s, indent=2))
    elif args.markdown:
        print("| file | mutants | killed | survived | invalid (do not compile) |")
        print("| --- | --- | --- | --- | --- |")
        for file, n in sorted(s["by_file"].items()):
            total = sum(n.values())
            print(f"| `{file}` | {total} | {n['killed']} | {n['survived']} | {n['invalid']} |")
        print(f"| **all** | {s['mutants']} | {s['killed']} | {s['survived']} | {s['invalid']} |")
    else:
        print(f"{s['killed']} killed / {s['valid']} valid mutants ({s['invalid']} invalid), "
              f"score {s['score']}")
        for r in s["survivors"]:
            print(f"  survived {r['id']}: {r['statement'][:80]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
