"""Compile small test instances of circuits/lib templates and check witnesses against them.

A test names a template, its parameters and (optionally) its public inputs; the harness
writes a one-line main, compiles it with circom (``--O2``, ``-l node_modules``), and caches
the artifacts under ``build/circuit-tests/<hash>/`` keyed by the hash of every circom
source in ``circuits/`` plus the main and the flags, so an unchanged circuit is compiled once.

The witness generator is run with a patched ``witness_calculator.js`` whose exception
handler ignores "Assert Failed" (code 4), so a failed ``===`` does not abort: the
generator returns a full-length witness that the tests check against the R1CS themselves
(:mod:`prover.r1cs`). Caveat, observed with circom 2.2.3: once a check fails, the wasm
computes no further signals (they stay 0), so for bad inputs the witness is "naive up to
the first violated rule". A tamper test therefore asserts that the R1CS rejects the
witness and, on an ``--O0`` build, that the rule under test is among the violated
constraints (:meth:`Witness.rejected_by`); for range checks that is conclusive (no bits
exist for an out-of-range value), elsewhere it is evidence, not proof. Tests may also
change signals of an honest witness directly (:meth:`Witness.tamper`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from prover.r1cs import R1CS, failing_constraints, parse_r1cs, parse_sym, parse_wtns

ROOT = Path(__file__).resolve().parents[2]
CIRCOM = ROOT / "node_modules" / "circom2" / "cli.js"
CACHE = ROOT / "build" / "circuit-tests"
FLAGS = ("--r1cs", "--wasm", "--sym")
#: Bumped when the layout of a cache entry changes.
HARNESS_VERSION = "3"


def _sources_digest() -> str:
    h = hashlib.sha256()
    for path in sorted((ROOT / "circuits").rglob("*.circom")):
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _jsonable(value: object) -> object:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


@dataclass
class Witness:
    circuit: Circuit
    values: list[int]

    def __getitem__(self, name: str) -> int:
        return self.values[self.circuit.wire(name)]

    def tamper(self, changes: dict[str, int]) -> Witness:
        """A copy with the named signals (``main.`` prefix optional) set to new values."""
        values = list(self.values)
        for name, value in changes.items():
            values[self.circuit.wire(name)] = value % self.circuit.r1cs.prime
        return Witness(self.circuit, values)

    def failing(self) -> list[int]:
        return failing_constraints(self.circuit.r1cs, self.values, limit=5)

    def failing_signals(self) -> set[str]:
        """Names of every signal that appears in a violated constraint."""
        names: set[str] = set()
        by_wire = self.circuit.names_by_wire()
        for index in failing_constraints(self.circuit.r1cs, self.values):
            if index < 0:
                names.add("<malformed witness>")
                continue
            for lc in self.circuit.r1cs.constraints[index]:
                for wire in lc:
                    names.update(by_wire.get(wire, ()))
        return names

    def rejected_by(self, prefix: str) -> bool:
        """Whether some violated constraint involves a signal named ``prefix...``.

        With an ``optimize=0`` build this pins a rejection to the rule that caused it
        (for example ``main.fill[0].makerRoom``), not merely to a public root that no
        longer matches.
        """
        full = prefix if prefix.startswith("main") else f"main.{prefix}"
        return any(n.startswith(full) for n in self.failing_signals())

    @property
    def ok(self) -> bool:
        return not self.failing()


@dataclass
class Circuit:
    name: str
    directory: Path
    r1cs: R1CS
    symbols: dict[str, int] = field(repr=False)

    @property
    def n_constraints(self) -> int:
        return len(self.r1cs.constraints)

    def names_by_wire(self) -> dict[int, list[str]]:
        if not hasattr(self, "_by_wire"):
            by_wire: dict[int, list[str]] = {}
            for n, w in self.symbols.items():
                if w >= 0:
                    by_wire.setdefault(w, []).append(n)
            self._by_wire = by_wire
        return self._by_wire

    def wire(self, name: str) -> int:
        full = name if name.startswith("main.") else f"main.{name}"
        if full not in self.symbols:
            raise KeyError(f"no signal {full} in {self.name}")
        wire = self.symbols[full]
        if wire < 0:
            raise KeyError(f"signal {full} was optimised away in {self.name}")
        return wire

    def witness(self, inputs: dict[str, object]) -> Witness:
        """Run the (assert-free) witness generator on ``inputs``."""
        with tempfile.TemporaryDirectory() as tmp:
            inp = Path(tmp) / "input.json"
            out = Path(tmp) / "witness.wtns"
            inp.write_text(json.dumps(_jsonable(inputs)))
            js = self.directory / f"{self.name}_js"
            proc = subprocess.run(
                [
                    "node",
                    str(js / "gen_noassert.js"),
                    str(js / f"{self.name}.wasm"),
                    str(inp),
                    str(out),
                ],
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, "ZKM_NO_ASSERT": "1"},
            )
            if proc.returncode != 0 or not out.exists():
                raise RuntimeError(f"witness generation failed: {proc.stderr[-2000:]}")
            return Witness(self, parse_wtns(out.read_bytes()))

    def accepts(self, inputs: dict[str, object]) -> bool:
        return self.witness(inputs).ok


_THROW = "                throw new Error(err + errStr);"


def _write_noassert_generator(js: Path) -> None:
    """``gen_noassert.js``: circom's generate_witness.js that does not stop at failed asserts."""
    target = js / "gen_noassert.js"
    if target.exists():
        return
    calc = (js / "witness_calculator.js").read_text()
    if _THROW not in calc:
        raise RuntimeError("unexpected witness_calculator.js: cannot disable its asserts")
    calc = calc.replace(
        _THROW,
        '                if (code == 4 && process.env.ZKM_NO_ASSERT) { errStr = ""; return; }\n'
        + _THROW,
    )
    (js / "wc_noassert.js").write_text(calc)
    gen = (
        (js / "generate_witness.js")
        .read_text()
        .replace("./witness_calculator.js", "./wc_noassert.js")
    )
    target.write_text(gen)


def compile_main(
    include: str,
    instance: str,
    public: tuple[str, ...] = (),
    name: str = "t",
    optimize: int = 2,
) -> Circuit:
    """Compile ``component main {public [...]} = <instance>;`` with ``include`` (under circuits/).

    ``optimize=2`` (``--O2``) is what the build uses and what documented constraint counts
    refer to. ``optimize=0`` keeps every signal on its own wire, so a tamper test can ask
    *which* constraints reject a witness (:meth:`Witness.rejected_by`).
    """
    flags = (*FLAGS, f"--O{optimize}")
    pub = f" {{public [{', '.join(public)}]}}" if public else ""
    main = (
        "pragma circom 2.1.0;\n"
        f'include "../../../circuits/{include}";\n'
        f"component main{pub} = {instance};\n"
    )
    digest = HARNESS_VERSION + _sources_digest() + main + " ".join(flags)
    key = hashlib.sha256(digest.encode()).hexdigest()[:16]
    directory = CACHE / key
    r1cs_path = directory / f"{name}.r1cs"
    if not r1cs_path.exists():
        # Compile into a private folder, then move it into place: two test processes that
        # compile the same instance at once never see a half-written entry.
        CACHE.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=CACHE))
        (work / f"{name}.circom").write_text(main)  # same depth as the final folder
        rel = work.relative_to(ROOT)
        proc = subprocess.run(
            [
                "node",
                str(CIRCOM.relative_to(ROOT)),
                f"{rel}/{name}.circom",
                *flags,
                "-l",
                "node_modules",
                "-o",
                str(rel),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0 or not (work / f"{name}.r1cs").exists():
            raise RuntimeError(
                f"circom failed for {instance}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        _write_noassert_generator(work / f"{name}_js")
        try:
            work.rename(directory)
        except OSError:  # another process got there first; use its copy
            shutil.rmtree(work, ignore_errors=True)
    _write_noassert_generator(directory / f"{name}_js")
    return Circuit(
        name,
        directory,
        parse_r1cs(r1cs_path.read_bytes()),
        parse_sym((directory / f"{name}.sym").read_text()),
    )


def assert_messages(circuit: Circuit, inputs: dict[str, object]) -> str:
    """Run circom's own (asserting) witness generator; its error text, or '' if it passes.

    For debugging: names the template and line of the first failed ``===``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "input.json"
        inp.write_text(json.dumps(_jsonable(inputs)))
        js = circuit.directory / f"{circuit.name}_js"
        proc = subprocess.run(
            [
                "node",
                str(js / "generate_witness.js"),
                str(js / f"{circuit.name}.wasm"),
                str(inp),
                str(Path(tmp) / "w.wtns"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        return "" if proc.returncode == 0 else proc.stderr
