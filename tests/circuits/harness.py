"""Compile small test instances of circuits/lib templates and check witnesses against them.

A test names a template, its parameters and (optionally) its public inputs; the harness
writes a one-line main, compiles it with circom (``--O2``, ``-l node_modules``), and caches
the artifacts under ``build/circuit-tests/<hash>/`` keyed by the hash of every circom
source in ``circuits/`` plus the main and the flags, so an unchanged circuit is compiled once.

The witness generator runs a copy of the circuit's wasm in which every failed check
(``===``, and circom's runtime asserts) is patched to carry on instead of returning
(:func:`patch_wasm_asserts`): the generator computes **every** signal from the inputs by
the circuit's own code, whatever fails. The tests check that witness against the R1CS
themselves (:mod:`prover.proving.r1cs`). So a tamper test can build the witness a cheating
operator would build (inputs from the model with one rule switched off, every other
signal computed) and show that the constraints it violates are the rule's own and no
others (:meth:`Witness.assert_rejected_only_by`, on an ``--O0`` build where each signal
keeps its own wire). Tests may also change signals of an honest witness directly
(:meth:`Witness.tamper`).

``ZKMATCH_CIRCUITS_DIR`` (a folder under the repository, for example a mutant's copy of
``circuits/`` written by ``scripts/mutate.py``) replaces ``circuits/`` as the source of every
compiled test instance.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from prover.proving.r1cs import R1CS, failing_constraints, parse_r1cs, parse_sym, parse_wtns

ROOT = Path(__file__).resolve().parents[2]
CIRCOM = ROOT / "node_modules" / "circom2" / "cli.js"
CACHE = ROOT / "build" / "circuit-tests"
FLAGS = ("--r1cs", "--wasm", "--sym")
#: Bumped when the layout of a cache entry changes.
HARNESS_VERSION = "4"


def circuits_dir() -> Path:
    """The circom sources tests compile: ``circuits/``, or ``ZKMATCH_CIRCUITS_DIR``.

    circom (as WebAssembly) only sees files under its working folder, the repository,
    so a replacement folder must lie inside it.
    """
    override = os.environ.get("ZKMATCH_CIRCUITS_DIR")
    if not override:
        return ROOT / "circuits"
    path = Path(override).resolve()
    if ROOT not in path.parents:
        raise RuntimeError(f"ZKMATCH_CIRCUITS_DIR must lie inside {ROOT}: {path}")
    return path


#: Set by scripts/mutate.py for its test runs: documented constraint counts (which any
#: mutant changes, so they would "kill" every one) are then not asserted.
MUTATION_RUN = bool(os.environ.get("ZKMATCH_MUTATION"))


def expect_count(circuit: Circuit, count: int) -> None:
    """Assert a documented constraint count (not in a mutation run)."""
    if not MUTATION_RUN:
        assert circuit.n_constraints == count, (circuit.n_constraints, count)


def _sources_digest(sources: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(sources.rglob("*.circom")):
        h.update(str(path.relative_to(sources)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _leb128(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def _imported_function(data: bytes, module: bytes, name: str) -> int:
    """Index of the imported function ``module.name`` in a wasm binary."""
    if data[:4] != b"\0asm":
        raise RuntimeError("not a wasm binary")
    pos = 8
    while pos < len(data):
        section = data[pos]
        size, pos = _leb128(data, pos + 1)
        if section != 2:  # the import section
            pos += size
            continue
        count, p = _leb128(data, pos)
        function = 0
        for _ in range(count):
            length, p = _leb128(data, p)
            mod = data[p : p + length]
            p += length
            length, p = _leb128(data, p)
            field_name = data[p : p + length]
            p += length
            kind = data[p]
            p += 1
            if kind == 0:  # function: type index
                _, p = _leb128(data, p)
                if mod == module and field_name == name.encode():
                    return function
                function += 1
            elif kind == 1:  # table: element type, limits
                flags = data[p + 1]
                _, p = _leb128(data, p + 2)
                if flags & 1:
                    _, p = _leb128(data, p)
            elif kind == 2:  # memory: limits
                flags = data[p]
                _, p = _leb128(data, p + 1)
                if flags & 1:
                    _, p = _leb128(data, p)
            elif kind == 3:  # global: value type, mutability
                p += 2
            else:
                raise RuntimeError(f"unknown import kind {kind}")
        break
    raise RuntimeError(f"the wasm does not import {module.decode()}.{name}")


def patch_wasm_asserts(data: bytes) -> tuple[bytes, int]:
    """The circom wasm with every failed check carrying on instead of returning.

    circom 2.2.3 compiles a failed ``===`` (or runtime ``assert``) to ``call
    $buildBufferMessage; call $printErrorMessage; i32.const 4; return`` inside an ``if``.
    Replacing ``i32.const 4; return`` (``41 04 0f``) by three ``nop`` (``01``) keeps the
    binary's layout and makes the template go on computing, so every signal is the one
    the circuit's own code computes from the inputs. Other error returns (a missing
    input, an out-of-bounds access: ``local.get; return``) are left alone. Returns the
    patched bytes and the number of checks patched.
    """
    index = _imported_function(data, b"runtime", "printErrorMessage")
    if index >= 0x80:
        raise RuntimeError("printErrorMessage's function index needs a multi-byte LEB128")
    call = bytes([0x10, index])
    pattern = call + b"\x41\x04\x0f"
    count = data.count(pattern)
    return data.replace(pattern, call + b"\x01\x01\x01"), count


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


@dataclass(frozen=True)
class Violation:
    """One violated constraint: its index and the names of every signal in it."""

    index: int
    signals: tuple[str, ...]

    def involves(self, prefix: str) -> bool:
        return any(_under(name, prefix) for name in self.signals)


def _under(name: str, prefix: str) -> bool:
    """``name`` is the signal ``prefix`` or lies below it (``prefix.x``, ``prefix[i]``)."""
    return name == prefix or name.startswith((prefix + ".", prefix + "["))


def _full(name: str) -> str:
    return name if name.startswith("main") else f"main.{name}"


@dataclass
class Witness:
    circuit: Circuit
    values: list[int] = field(repr=False)

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

    def violations(self) -> list[Violation]:
        """Every violated constraint, with the signals it involves."""
        by_wire = self.circuit.names_by_wire()
        out = []
        for index in failing_constraints(self.circuit.r1cs, self.values):
            if index < 0:
                out.append(Violation(index, ("<malformed witness>",)))
                continue
            names: set[str] = set()
            for lc in self.circuit.r1cs.constraints[index]:
                for wire in lc:
                    names.update(by_wire.get(wire, ()))
            out.append(Violation(index, tuple(sorted(names))))
        return out

    def assert_rejected_only_by(self, *prefixes: str) -> list[Violation]:
        """Assert the R1CS rejects this witness, and only through the named rule(s).

        Every violated constraint must involve a signal at or below one of ``prefixes``
        (``main.`` optional; for example ``fill[0].makerRoom`` or ``feeCollRange[1]``).
        Meant for an ``optimize=0`` build and a consistent malicious witness: inputs a
        cheating operator would choose, every other signal computed by the circuit. Then
        deleting the rule's constraints would make the circuit accept the witness, so the
        test fails when the rule is removed. Returns the violations.
        """
        rule = [_full(p) for p in prefixes]
        found = self.violations()
        assert found, f"the witness satisfies every constraint (rule {rule} not enforced)"
        stray = [v for v in found if not any(v.involves(p) for p in rule)]
        assert not stray, (
            f"{len(stray)} of {len(found)} violated constraints are not rule {rule}'s: "
            + "; ".join(f"#{v.index}: {', '.join(v.signals[:6])}" for v in stray[:6])
        )
        return found

    @property
    def ok(self) -> bool:
        return not self.failing()


@dataclass
class Circuit:
    name: str
    directory: Path
    r1cs: R1CS = field(repr=False)
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
        """Every signal the circuit computes from ``inputs``, whatever checks fail
        (the generator runs the assert-patched wasm, :func:`patch_wasm_asserts`)."""
        with tempfile.TemporaryDirectory() as tmp:
            inp = Path(tmp) / "input.json"
            out = Path(tmp) / "witness.wtns"
            inp.write_text(json.dumps(_jsonable(inputs)))
            js = self.directory / f"{self.name}_js"
            _WITNESSES.run(js, js / f"{self.name}_noassert.wasm", inp, out)
            return Witness(self, parse_wtns(out.read_bytes()))

    def accepts(self, inputs: dict[str, object]) -> bool:
        return self.witness(inputs).ok


class _WitnessServer:
    """One node process per test process that keeps the most recent circuits' wasm loaded
    (tests/circuits/witness_server.js): a witness then costs its computation only, not
    node's start and the wasm's instantiation (about half of each call on the batch).
    ``ZKMATCH_WITNESS_SERVER=0`` runs circom's own generate_witness.js once per witness."""

    SCRIPT = Path(__file__).with_name("witness_server.js")

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def run(self, js: Path, wasm: Path, inp: Path, out: Path) -> None:
        if os.environ.get("ZKMATCH_WITNESS_SERVER", "1") == "0":
            self._once(js, wasm, inp, out)
            return
        request = json.dumps({"js": str(js), "wasm": str(wasm), "input": str(inp),
                              "output": str(out)})
        with self._lock:
            proc = self._started()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(request + "\n")
                proc.stdin.flush()
                reply = ""
                while not reply.startswith("@@zkw "):
                    reply = proc.stdout.readline()
                    if not reply:
                        raise BrokenPipeError("the witness server stopped")
            except (BrokenPipeError, OSError) as e:
                self._proc = None
                raise RuntimeError(f"witness generation failed: {e}") from e
        if reply.startswith("@@zkw err "):
            raise RuntimeError(f"witness generation failed: {json.loads(reply[10:])[-2000:]}")
        if not out.exists():
            raise RuntimeError("witness generation failed: no witness written")

    def _started(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                ["node", str(self.SCRIPT)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            atexit.register(self.close)
        return self._proc

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    @staticmethod
    def _once(js: Path, wasm: Path, inp: Path, out: Path) -> None:
        proc = subprocess.run(
            ["node", str(js / "generate_witness.js"), str(wasm), str(inp), str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"witness generation failed: {proc.stderr[-2000:]}")


_WITNESSES = _WitnessServer()


def _write_noassert_generator(js: Path, name: str) -> None:
    """``<name>_noassert.wasm``: the circuit's wasm with its checks patched to carry on."""
    target = js / f"{name}_noassert.wasm"
    if target.exists():
        return
    patched, _ = patch_wasm_asserts((js / f"{name}.wasm").read_bytes())
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(patched)
    tmp.rename(target)


def compile_main(
    include: str,
    instance: str,
    public: tuple[str, ...] = (),
    name: str = "t",
    optimize: int = 2,
    sources: Path | None = None,
) -> Circuit:
    """Compile ``component main {public [...]} = <instance>;`` with ``include`` (under circuits/).

    ``optimize=2`` (``--O2``) is what the build uses and what documented constraint counts
    refer to. ``optimize=0`` keeps every signal on its own wire, so a tamper test can ask
    *which* constraints reject a witness (:meth:`Witness.assert_rejected_only_by`).
    ``sources`` compiles from another copy of ``circuits/`` (a mutant, inside the
    repository); by default :func:`circuits_dir`.
    """
    sources = (sources or circuits_dir()).resolve()
    flags = (*FLAGS, f"--O{optimize}")
    pub = f" {{public [{', '.join(public)}]}}" if public else ""
    rel_sources = os.path.relpath(sources, CACHE / "x")
    main = (
        "pragma circom 2.1.0;\n"
        f'include "{rel_sources}/{include}";\n'
        f"component main{pub} = {instance};\n"
    )
    digest = HARNESS_VERSION + _sources_digest(sources) + main + " ".join(flags)
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
        _write_noassert_generator(work / f"{name}_js", name)
        try:
            work.rename(directory)
        except OSError:  # another process got there first; use its copy
            shutil.rmtree(work, ignore_errors=True)
    _write_noassert_generator(directory / f"{name}_js", name)
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
