"""The proving pipeline: compile -> trusted setup -> prove -> verify, cached by content.

A :class:`CircuitSpec` names a template in ``circuits/`` and its parameters; :func:`build`
generates the ``component main`` wrapper, compiles it with circom, runs the Groth16 setup on
a powers-of-tau file of the right size with one or more phase-2 contributions, and exports
the verification key and the Solidity verifier. Everything lands in a build-cache entry
(:mod:`prover.toolchain.cache`); a second :func:`build` of the same sources finds it and runs
nothing. :func:`prove` and :func:`verify` use the artifacts.

Cache entry layout (``<build root>/<name>-<key>/``)::

    circuit.circom          generated wrapper (component main)
    circuit.r1cs, circuit.sym, circuit_js/circuit.wasm
    circuit.json            manifest: spec, tool versions, constraint count, timings
    setup-<ptau id>/        one per powers-of-tau file used (setup-dev/: the development
                            setup of devzkey.mjs, no ptau; same files)
        circuit_final.zkey  proving key after the phase-2 contribution(s)
        verification_key.json
        Groth16Verifier.sol snarkjs's exported verifier
        Groth16Verifier.json  its ABI and bytecode (written by compile_verifier)
        setup.json          manifest: ptau, power, contributions, timings
    current                 name of the setup folder used by default
    witness-cpp/            only once the C++ witness generator was asked for
        circuit_cpp/circuit circom --c sources of the same wrapper, built with make
        cpp.json            manifest: key, tools, timings (written last)

A build without ``ptau`` reuses the entry's current setup, so ``zkmatch setup --ptau FILE``
once, then ``zkmatch prove`` any number of times, proves with the ceremony's setup.

The witness comes from circom's wasm (``snarkjs wtns calculate``, the default) or, opt-in,
from circom's C++ witness generator (:func:`witness_generator`; ``ZKMATCH_WITNESS`` or the
``witness`` argument: ``wasm``, ``cpp`` or ``auto``), built once per entry.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypedDict, cast

from prover.errors import SetupError, ToolError, ZkmatchError
from prover.proving import backends
from prover.toolchain import cache, circom, devzkey, snarkjs, witness_cpp
from prover.toolchain.common import CIRCUITS_DIR, NODE_MODULES, Progress, tool_versions
from prover.toolchain.ptau import required_power, resolve_ptau
from prover.toolchain.solc import CompiledContract, compile_contract

#: Bumped when the layout of a cache entry changes (old entries are then ignored).
LAYOUT_VERSION = 1
WRAPPER = "circuit.circom"
VERIFIER_CONTRACT = "Groth16Verifier"
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Environment variable choosing the witness generator when no ``witness`` is passed.
WITNESS_ENV = "ZKMATCH_WITNESS"
#: Witness generators: ``wasm`` (default), ``cpp`` (build if needed), ``auto`` (cpp if possible).
WITNESS_GENERATORS = ("wasm", "cpp", "auto")
#: Folder of a cache entry holding the built C++ witness generator.
CPP_DIR = "witness-cpp"
#: Environment variable choosing the setup when no ptau is given: ``dev`` or ``ptau``.
SETUP_ENV = "ZKMATCH_SETUP"
#: ``dev``: devzkey.mjs, seconds, development only (the default without ``--ptau``);
#: ``ptau``: ``snarkjs groth16 setup`` on a ptau (a ceremony's with ``--ptau``, else
#: ``ZKMATCH_PTAU_DIR`` or a development ptau) plus phase-2 contributions.
SETUP_KINDS = ("dev", "ptau")
#: Setup folder of the development setup inside a cache entry.
DEV_SETUP_DIR = "setup-dev"


class Groth16Proof(TypedDict):
    """``proof.json`` as snarkjs writes it (projective coordinates, decimal strings)."""

    pi_a: list[str]
    pi_b: list[list[str]]
    pi_c: list[str]
    protocol: str
    curve: str


#: ``public.json``: the public signals as decimal strings, outputs first, then public inputs.
PublicSignals = list[str]

#: Circuit input JSON: signal name -> decimal string, or nested lists of them.
CircuitInputs = Mapping[str, Any]


class VerificationKey(TypedDict, total=False):
    """``verification_key.json`` (Groth16 on bn128), as exported by snarkjs."""

    protocol: str
    curve: str
    nPublic: int
    vk_alpha_1: list[str]
    vk_beta_2: list[list[str]]
    vk_gamma_2: list[list[str]]
    vk_delta_2: list[list[str]]
    vk_alphabeta_12: list[list[list[str]]]
    IC: list[list[str]]


@dataclass(frozen=True)
class CircuitSpec:
    """A top-level circuit: template ``template`` of ``circuits/<source>`` with ``params``.

    ``public`` lists the template's input signals that become public (its outputs are
    always public). ``circuits_dir`` is the include root (tests point it elsewhere).
    """

    name: str
    source: str
    template: str
    params: tuple[int, ...] = ()
    public: tuple[str, ...] = ()
    circuits_dir: Path = CIRCUITS_DIR

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ZkmatchError(f"circuit name {self.name!r} must match {_NAME.pattern}")
        for ident in (self.template, *self.public):
            if not _IDENT.match(ident):
                raise ZkmatchError(f"{ident!r} is not a circom identifier")
        if any(isinstance(p, bool) or not isinstance(p, int) for p in self.params):
            raise ZkmatchError(f"template parameters must be integers, got {self.params!r}")

    @property
    def source_path(self) -> Path:
        return self.circuits_dir / self.source

    @property
    def include_dirs(self) -> list[Path]:
        """``-l`` folders: the circuits folder (for the wrapper) and node_modules (circomlib)."""
        return [self.circuits_dir, NODE_MODULES]

    def wrapper(self) -> str:
        """The main file: include the source and instantiate the template (pure)."""
        public = f" {{public [{', '.join(self.public)}]}}" if self.public else ""
        args = ", ".join(str(p) for p in self.params)
        return (
            "// Generated by zkmatch (prover/proving/circuit.py); do not edit.\n"
            "pragma circom 2.1.0;\n\n"
            f'include "{Path(self.source).as_posix()}";\n\n'
            f"component main{public} = {self.template}({args});\n"
        )


@dataclass(frozen=True)
class Artifacts:
    """Everything a built circuit needs to prove and verify."""

    spec: CircuitSpec
    key: str
    directory: Path
    r1cs: Path
    wasm: Path
    sym: Path
    zkey: Path
    vkey: Path
    verifier_sol: Path
    constraints: int
    public_signals: int
    #: The ptau of a ``ptau`` setup; ``None`` for a development (devzkey) setup.
    ptau: Path | None
    #: Seconds per stage (compile, r1cs_info, setup, contribute, export), recorded when built.
    timings: dict[str, float]
    #: True when this call found everything in the cache and ran no tool.
    cached: bool
    #: ``"dev"`` (devzkey.mjs, development only) or ``"ptau"`` (snarkjs setup on a ptau).
    setup_kind: str = "ptau"

    @property
    def setup_dir(self) -> Path:
        return self.zkey.parent

    def verification_key(self) -> VerificationKey:
        return cast(VerificationKey, json.loads(self.vkey.read_text()))


@dataclass(frozen=True)
class ProofResult:
    """A Groth16 proof, its public signals, and how long witness and proof took."""

    proof: Groth16Proof
    public: PublicSignals
    timings: dict[str, float] = field(default_factory=dict)
    #: Which generator computed the witness: ``"wasm"`` or ``"cpp"``.
    witness_generator: str = "wasm"
    #: Which backend proved it: ``"snarkjs"`` or ``"arkworks"`` (prover/proving/backends.py).
    prover: str = "snarkjs"

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        """Write ``proof.json`` and ``public.json`` in snarkjs's format; return their paths."""
        out_dir.mkdir(parents=True, exist_ok=True)
        proof_path, public_path = out_dir / "proof.json", out_dir / "public.json"
        proof_path.write_text(json.dumps(self.proof, indent=1) + "\n")
        public_path.write_text(json.dumps(self.public, indent=1) + "\n")
        return proof_path, public_path


# --------------------------------------------------------------------------- build


def compile_key(spec: CircuitSpec, versions: Mapping[str, str]) -> str:
    """The cache key: sources (recursively), wrapper, parameters and tool versions."""
    files = cache.source_closure(spec.source_path, spec.include_dirs)
    parts = {
        "layout": LAYOUT_VERSION,
        "wrapper": spec.wrapper(),
        "template": spec.template,
        "params": list(spec.params),
        "public": list(spec.public),
        "versions": dict(versions),
        "optimization": 2,
    }
    return cache.cache_key(files, parts)


def entry_dir(spec: CircuitSpec, key: str) -> Path:
    return cache.build_root() / f"{spec.name}-{key[:16]}"


def _say(progress: Progress | None, message: str) -> None:
    if progress:
        progress(message)


def _compile_stage(
    spec: CircuitSpec, entry: Path, key: str, versions: Mapping[str, str], progress: Progress | None
) -> None:
    with cache.atomic_dir(entry) as temp:
        main = temp / WRAPPER
        main.write_text(spec.wrapper())
        _say(progress, f"compile: {spec.name} ({spec.template}{list(spec.params)}) with circom")
        outputs = circom.compile_circuit(main, temp, spec.include_dirs, progress=progress)
        start = time.monotonic()
        info = snarkjs.r1cs_info(outputs.r1cs, progress=progress)
        info_s = time.monotonic() - start
        _say(
            progress,
            f"compile: {info.constraints} constraints, {info.wires} wires "
            f"({outputs.seconds:.1f} s)",
        )
        manifest = {
            "name": spec.name,
            "source": spec.source,
            "template": spec.template,
            "params": list(spec.params),
            "public": list(spec.public),
            "key": key,
            "versions": dict(versions),
            "r1cs": asdict(info),
            "timings": {"compile": outputs.seconds, "r1cs_info": info_s},
        }
        cache.write_json_atomic(temp / "circuit.json", manifest)


def _resolve_ptau(power: int, ptau: Path | None, progress: Progress | None) -> Path:
    """A prepared ptau of at least ``power`` (:func:`prover.toolchain.ptau.resolve_ptau`)."""
    return Path(resolve_ptau(power, ptau, progress=progress))


def _setup_stage(
    entry: Path, setup: Path, ptau: Path, power: int, contributions: int, progress: Progress | None
) -> None:
    with cache.atomic_dir(setup) as temp:
        r1cs = entry / "circuit.r1cs"
        zkey = temp / "circuit_0000.zkey"
        _say(progress, f"setup: groth16 setup with {ptau.name} (circuit needs 2^{power})")
        try:
            setup_s = snarkjs.groth16_setup(r1cs, ptau, zkey, progress=progress)
        except ToolError as exc:
            raise SetupError(
                f"groth16 setup with {ptau} failed; the ptau must be prepared for phase 2 "
                f"and of power >= {power}.\n{exc}"
            ) from exc
        zkey, contribute_s = _contribute(zkey, temp, 1, contributions, progress)
        final = temp / "circuit_final.zkey"
        zkey.rename(final)
        export_s = _export_stage(final, temp, progress)
        cache.write_json_atomic(
            temp / "setup.json",
            {
                "kind": "ptau",
                "ptau": str(ptau),
                "power": power,
                "contributions": contributions,
                "timings": {"setup": setup_s, "contribute": contribute_s, "export": export_s},
            },
        )


def _contribute(
    zkey: Path, temp: Path, first: int, contributions: int, progress: Progress | None
) -> tuple[Path, float]:
    """Phase-2 contributions ``first..contributions`` on top of ``zkey`` (entropy from
    os.urandom); return the last key and the seconds spent."""
    seconds = 0.0
    for index in range(first, contributions + 1):
        _say(
            progress,
            f"setup: phase-2 contribution {index}/{contributions} (entropy from os.urandom)",
        )
        new = temp / f"circuit_{index:04d}.zkey"
        seconds += snarkjs.zkey_contribute(
            zkey, new, name=f"zkmatch local contribution {index}", progress=progress
        )
        zkey.unlink()
        zkey = new
    return zkey, seconds


def _export_stage(final: Path, temp: Path, progress: Progress | None) -> float:
    """Verification key and Solidity verifier of ``final`` into ``temp``; seconds spent."""
    _say(progress, "setup: exporting verification key and Solidity verifier")
    export_s = snarkjs.export_verification_key(
        final, temp / "verification_key.json", progress=progress
    )
    export_s += snarkjs.export_solidity_verifier(
        final, temp / f"{VERIFIER_CONTRACT}.sol", progress=progress
    )
    return export_s


def _dev_setup_stage(
    entry: Path, setup: Path, power: int, contributions: int, progress: Progress | None
) -> None:
    """The development setup: devzkey.mjs writes a key with one contribution (its delta);
    further contributions, if asked, are ordinary ``snarkjs zkey contribute`` rounds."""
    with cache.atomic_dir(setup) as temp:
        _say(progress, devzkey.WARNING)
        _say(progress, f"setup: development key for 2^{power} (devzkey.mjs, no ptau)")
        start = time.monotonic()
        zkey = temp / "circuit_0001.zkey"
        summary = devzkey.generate_dev_zkey(entry / "circuit.r1cs", zkey, progress=progress)
        setup_s = time.monotonic() - start
        zkey, contribute_s = _contribute(zkey, temp, 2, contributions, progress)
        final = temp / "circuit_final.zkey"
        zkey.rename(final)
        export_s = _export_stage(final, temp, progress)
        cache.write_json_atomic(
            temp / "setup.json",
            {
                "kind": "dev",
                "ptau": None,
                "power": power,
                "contributions": contributions,
                "development_only": True,
                "circuit_hash": summary.get("circuit_hash"),
                "timings": {"setup": setup_s, "contribute": contribute_s, "export": export_s},
            },
        )


def setup_choice(kind: str | None = None, ptau: Path | None = None) -> str:
    """The setup kind: ``ptau`` when a ptau file is given, else ``kind``, else
    ``$ZKMATCH_SETUP``, else ``dev``; a clear error for anything else."""
    origin = "setup"
    if kind is None:
        kind = os.environ.get(SETUP_ENV, "").strip() or None
        origin = SETUP_ENV
    if kind is None:
        return "ptau" if ptau is not None else "dev"
    normal = kind.strip().lower()
    if normal not in SETUP_KINDS:
        raise ZkmatchError(f"{origin} {kind!r} is not one of {', '.join(SETUP_KINDS)}")
    if ptau is not None and normal == "dev":
        if origin == SETUP_ENV:
            return "ptau"  # an explicit --ptau wins over the environment
        raise ZkmatchError("a development setup takes no ptau; leave out --ptau or use ptau")
    return normal


def build(
    spec: CircuitSpec,
    ptau: Path | None = None,
    progress: Progress | None = None,
    *,
    contributions: int = 1,
    setup_kind: str | None = None,
) -> Artifacts:
    """Compile and set up ``spec`` (or find both in the cache) and return the artifacts.

    With ``ptau`` given, the setup is ``snarkjs groth16 setup`` for that file (cached per
    file). Without it, the entry's current setup is reused (when ``setup_kind`` or
    ``$ZKMATCH_SETUP`` names a kind, only a current setup of that kind); otherwise a setup of
    the kind :func:`setup_choice` gives is made: ``dev`` by devzkey.mjs (the default), ``ptau``
    on a ptau from :func:`prover.toolchain.ptau.resolve_ptau`.
    """
    kind = setup_choice(setup_kind, ptau)
    # Only an explicit choice (argument or $ZKMATCH_SETUP) replaces a current setup of the
    # other kind: `zkmatch setup --ptau FILE` once, then plain `zkmatch prove`, proves with it.
    explicit = setup_kind is not None or bool(os.environ.get(SETUP_ENV, "").strip())
    if contributions < 1:
        raise SetupError("a Groth16 setup needs at least one phase-2 contribution")
    versions = tool_versions(("circom", "snarkjs"))
    key = compile_key(spec, versions)
    entry = entry_dir(spec, key)
    cached = True
    if not (entry / "circuit.json").is_file():
        cached = False
        _compile_stage(spec, entry, key, versions, progress)
    else:
        _say(progress, f"compile: {spec.name} found in cache ({entry})")
    manifest = json.loads((entry / "circuit.json").read_text())
    r1cs = manifest["r1cs"]
    public_signals = int(r1cs["outputs"]) + int(r1cs["public_inputs"])
    power = required_power(int(r1cs["constraints"]), public_signals)

    setup: Path | None = None
    current = entry / "current"
    if ptau is None and current.is_file():
        candidate = entry / current.read_text().strip()
        if (candidate / "setup.json").is_file() and (
            not explicit or _setup_kind(candidate) == kind
        ):
            setup = candidate
    if setup is None and kind == "dev":
        setup = entry / DEV_SETUP_DIR
        if not (setup / "setup.json").is_file():
            cached = False
            _dev_setup_stage(entry, setup, power, contributions, progress)
        else:
            _say(progress, f"setup: found in cache ({setup.name}, development only)")
        cache.write_text_atomic(current, setup.name + "\n")
    elif setup is None:
        ptau_path = _resolve_ptau(power, ptau, progress)
        setup = entry / f"setup-{cache.file_fingerprint(ptau_path)[:16]}"
        if not (setup / "setup.json").is_file():
            cached = False
            _setup_stage(entry, setup, ptau_path, power, contributions, progress)
        else:
            _say(progress, f"setup: found in cache ({setup.name}, {ptau_path.name})")
        cache.write_text_atomic(current, setup.name + "\n")
    else:
        _say(progress, f"setup: found in cache ({setup.name})")
    setup_manifest = json.loads((setup / "setup.json").read_text())
    return Artifacts(
        spec=spec,
        key=key,
        directory=entry,
        r1cs=entry / "circuit.r1cs",
        wasm=entry / "circuit_js" / "circuit.wasm",
        sym=entry / "circuit.sym",
        zkey=setup / "circuit_final.zkey",
        vkey=setup / "verification_key.json",
        verifier_sol=setup / f"{VERIFIER_CONTRACT}.sol",
        constraints=int(r1cs["constraints"]),
        public_signals=public_signals,
        ptau=Path(setup_manifest["ptau"]) if setup_manifest.get("ptau") else None,
        timings={**manifest["timings"], **setup_manifest["timings"]},
        cached=cached,
        setup_kind=str(setup_manifest.get("kind", "ptau")),
    )


def _setup_kind(setup: Path) -> str:
    """The kind a setup folder's manifest records (``ptau`` for folders made before kinds)."""
    return str(json.loads((setup / "setup.json").read_text()).get("kind", "ptau"))


# --------------------------------------------------------------------------- witness generators


def witness_choice(choice: str | None = None) -> str:
    """``choice``, else ``$ZKMATCH_WITNESS``, else ``"wasm"``: one of
    :data:`WITNESS_GENERATORS` (a clear error for anything else)."""
    origin = "witness generator"
    if choice is None:
        value = os.environ.get(WITNESS_ENV, "").strip()
        if not value:
            return "wasm"
        choice, origin = value, WITNESS_ENV
    normal = choice.strip().lower()
    if normal not in WITNESS_GENERATORS:
        raise ZkmatchError(
            f"{origin} {choice!r} is not one of {', '.join(WITNESS_GENERATORS)}"
        )
    return normal


@dataclass(frozen=True)
class WitnessGenerator:
    """A resolved witness generator: ``kind`` ``"wasm"`` (``path``: circuit.wasm, run by
    ``snarkjs wtns calculate``) or ``"cpp"`` (``path``: circom's C++ program, built)."""

    kind: str
    path: Path


def cpp_generator_path(artifacts: Artifacts) -> Path | None:
    """The entry's built C++ witness generator, or ``None`` if it was never built."""
    folder = artifacts.directory / CPP_DIR
    manifest = folder / "cpp.json"
    if not manifest.is_file():
        return None
    data = json.loads(manifest.read_text())
    binary = folder / str(data.get("binary", ""))
    if data.get("key") != artifacts.key or not binary.is_file():
        raise ToolError(
            f"{folder} is not the C++ witness generator of this entry (its manifest names "
            f"another key or a missing program); remove that folder to rebuild it"
        )
    return binary


def _cpp_stage(artifacts: Artifacts, progress: Progress | None) -> None:
    """``circom --c`` of the entry's own wrapper, then ``make``, in one atomic folder.

    Refuses when the sources no longer hash to the entry's key (the C++ program must come
    from the very sources the r1cs and wasm came from). ``cpp.json`` is written last and
    the folder renamed into place only when complete, so a crash or a failed ``make``
    leaves nothing that :func:`cpp_generator_path` would trust.
    """
    spec = artifacts.spec
    versions = tool_versions(("circom", "snarkjs"))
    if compile_key(spec, versions) != artifacts.key:
        raise ToolError(
            f"the sources of {spec.name} changed since {artifacts.directory.name} was built; "
            "build the circuit again before building its C++ witness generator"
        )
    witness_cpp.require_build_tools()
    entry = artifacts.directory
    with cache.atomic_dir(entry / CPP_DIR) as temp:
        _say(progress, f"witness: circom --c for {spec.name} (C++ witness generator)")
        start = time.monotonic()
        cpp_dir = circom.compile_cpp(entry / WRAPPER, temp, spec.include_dirs, progress=progress)
        circom_s = time.monotonic() - start
        _say(progress, "witness: make (g++ -O3; minutes for a big circuit)")
        binary, make_s = witness_cpp.make_generator(cpp_dir, progress=progress)
        for obj in cpp_dir.glob("*.o"):  # only the program and its .dat are needed
            obj.unlink()
        cache.write_json_atomic(
            temp / "cpp.json",
            {
                "key": artifacts.key,
                "generator": "cpp",
                "binary": binary.relative_to(temp.resolve()).as_posix(),
                "versions": dict(versions),
                "timings": {"circom_cpp": circom_s, "make": make_s},
            },
        )
    _say(progress, f"witness: C++ generator built (circom {circom_s:.1f} s, make {make_s:.1f} s)")


def build_cpp_witness(artifacts: Artifacts, progress: Progress | None = None) -> Path:
    """The entry's C++ witness generator, built now if it is not yet (cached afterwards).

    Raises :class:`ToolError` naming the missing tools and the apt line when it cannot be
    built (:func:`prover.toolchain.witness_cpp.require_build_tools`).
    """
    binary = cpp_generator_path(artifacts)
    if binary is None:
        _cpp_stage(artifacts, progress)
        binary = cpp_generator_path(artifacts)
        if binary is None:  # pragma: no cover - the stage writes cpp.json or raises
            raise ToolError(f"the C++ witness generator of {artifacts.directory} was not built")
    return binary


def witness_generator(
    artifacts: Artifacts, choice: str | None = None, progress: Progress | None = None
) -> WitnessGenerator:
    """Resolve ``choice`` (else ``$ZKMATCH_WITNESS``, else wasm) for ``artifacts``.

    ``cpp`` builds the C++ generator if needed and fails with a :class:`ToolError` if it
    cannot; ``auto`` uses it when built or buildable and otherwise the wasm, saying which
    (and why) on ``progress``.
    """
    kind = witness_choice(choice)
    wasm = WitnessGenerator("wasm", artifacts.wasm)
    if kind == "wasm":
        return wasm
    if kind == "cpp":
        return WitnessGenerator("cpp", build_cpp_witness(artifacts, progress))
    binary = cpp_generator_path(artifacts)
    if binary is not None:
        _say(progress, "witness: auto -> cpp (C++ generator already built)")
        return WitnessGenerator("cpp", binary)
    missing = witness_cpp.missing_build_tools()
    if missing:
        _say(
            progress,
            f"witness: auto -> wasm (the C++ generator needs {', '.join(missing)}; "
            "see `make setup-cpp`)",
        )
        return wasm
    _say(progress, "witness: auto -> cpp (building it once for this circuit)")
    try:
        binary = build_cpp_witness(artifacts, progress)
    except ToolError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        _say(progress, f"witness: auto -> wasm (building the C++ generator failed: {first})")
        return wasm
    return WitnessGenerator("cpp", binary)


# --------------------------------------------------------------------------- prove, verify


def _as_json_input(value: Any) -> Any:
    """Integers as decimal strings (JSON numbers above 2^53 lose precision in node)."""
    if isinstance(value, bool):
        raise ZkmatchError("circuit inputs must be integers, not booleans")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _as_json_input(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_as_json_input(v) for v in value]
    if isinstance(value, str):
        return value
    raise ZkmatchError(f"cannot use {type(value).__name__} as a circuit input")


def prove(
    artifacts: Artifacts,
    inputs: CircuitInputs,
    progress: Progress | None = None,
    *,
    work_dir: Path | None = None,
    witness: str | WitnessGenerator | None = None,
    prover: str | backends.ProverBackend | None = None,
) -> ProofResult:
    """Witness + Groth16 proof; intermediate files go to ``work_dir`` or a temp dir.

    ``witness`` picks the witness generator: ``"wasm"``, ``"cpp"``, ``"auto"`` (see
    :func:`witness_generator`; ``None``: ``$ZKMATCH_WITNESS``, else wasm) or one already
    resolved. Building the C++ generator is not part of the ``witness`` seconds. A witness
    that violates a constraint fails in the generator with a ToolError. ``prover`` picks the
    backend (:func:`prover.proving.backends.prover_choice`: ``snarkjs``, ``arkworks``,
    ``auto``; ``None``: ``$ZKMATCH_PROVER``, else auto) or is one already made.
    """
    engine = prover if prover is not None and not isinstance(prover, str) else (
        backends.backend(prover)
    )
    generator = (
        witness
        if isinstance(witness, WitnessGenerator)
        else witness_generator(artifacts, witness, progress)
    )
    with tempfile.TemporaryDirectory(prefix="zkmatch-prove-") as scratch:
        folder = work_dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        input_json, wtns = folder / "input.json", folder / "witness.wtns"
        proof_json, public_json = folder / "proof.json", folder / "public.json"
        input_json.write_text(json.dumps(_as_json_input(inputs)))
        if generator.kind == "cpp":
            _say(progress, f"prove: witness for {artifacts.spec.name} (C++ generator)")
            witness_s = witness_cpp.wtns_calculate(
                generator.path, input_json, wtns, progress=progress
            )
        else:
            _say(progress, f"prove: witness for {artifacts.spec.name}")
            witness_s = snarkjs.wtns_calculate(
                generator.path, input_json, wtns, progress=progress
            )
        _say(
            progress,
            f"prove: groth16 prove with {engine.name} ({artifacts.constraints} constraints)",
        )
        raw = engine.prove(artifacts.zkey, wtns, artifacts.public_signals, progress)
        proof_json.write_text(json.dumps(raw.proof))
        public_json.write_text(json.dumps(raw.public))
        proof = cast(Groth16Proof, raw.proof)
        public = cast(PublicSignals, raw.public)
    _say(progress, f"prove: done (witness {witness_s:.2f} s, proof {raw.seconds:.2f} s)")
    return ProofResult(
        proof,
        public,
        {"witness": witness_s, "prove": raw.seconds},
        witness_generator=generator.kind,
        prover=engine.name,
    )


def verify(artifacts: Artifacts, proof: Groth16Proof, public: PublicSignals) -> bool:
    """Check a proof with ``snarkjs groth16 verify`` against the artifacts' verification key."""
    with tempfile.TemporaryDirectory(prefix="zkmatch-verify-") as scratch:
        folder = Path(scratch)
        (folder / "proof.json").write_text(json.dumps(proof))
        (folder / "public.json").write_text(json.dumps(list(public)))
        return snarkjs.groth16_verify(artifacts.vkey, folder / "public.json", folder / "proof.json")


def compile_verifier(artifacts: Artifacts, progress: Progress | None = None) -> CompiledContract:
    """ABI and bytecode of the exported ``Groth16Verifier`` (compiled once, then cached)."""
    cached = artifacts.setup_dir / f"{VERIFIER_CONTRACT}.json"
    if cached.is_file():
        return CompiledContract.from_json(json.loads(cached.read_text()))
    contract = compile_contract(artifacts.verifier_sol, VERIFIER_CONTRACT, progress=progress)
    cache.write_json_atomic(cached, contract.to_json())
    return contract


SolidityCalldata = tuple[
    tuple[int, int], tuple[tuple[int, int], tuple[int, int]], tuple[int, int], list[int]
]


def solidity_calldata(proof: Groth16Proof, public: PublicSignals) -> SolidityCalldata:
    """Arguments of ``Groth16Verifier.verifyProof(pA, pB, pC, pubSignals)`` (pure).

    As ``snarkjs zkey export soliditycalldata``: affine coordinates, and each G2 coordinate
    pair swapped to (imaginary, real), the order the EVM pairing precompile expects.
    """
    a, b, c = proof["pi_a"], proof["pi_b"], proof["pi_c"]
    return (
        (int(a[0]), int(a[1])),
        ((int(b[0][1]), int(b[0][0])), (int(b[1][1]), int(b[1][0]))),
        (int(c[0]), int(c[1])),
        [int(s) for s in public],
    )


# --------------------------------------------------------------------------- registry


def account_membership_spec(bits: int = 4, markets: int = 2) -> CircuitSpec:
    """The demo circuit: an account of ``markets`` markets is in a tree of ``bits`` bits."""
    if bits < 2 or bits % 2:
        raise ZkmatchError(f"account tree depth must be an even number of bits >= 2, not {bits}")
    if not 1 <= markets <= 8:
        raise ZkmatchError(f"an account has 1 to 8 markets, not {markets}")
    return CircuitSpec(
        name=f"account_membership_d{bits}_m{markets}",
        source="main/AccountMembership.circom",
        template="AccountMembership",
        params=(bits // 2, markets),
        public=("root",),
    )


def lazy_spec(target: str) -> Callable[..., CircuitSpec]:
    """A factory that imports ``"module:function"`` on first use (no import cycle at load)."""
    module_name, _, function = target.partition(":")

    def factory(**params: Any) -> CircuitSpec:
        module = importlib.import_module(module_name)
        return cast(CircuitSpec, getattr(module, function)(**params))

    factory.__doc__ = f"Spec from {target}."
    return factory


#: Circuits ``zkmatch setup --circuit NAME`` and ``zkmatch prove --circuit NAME`` know.
#: A factory takes keyword parameters (all with defaults) and returns a spec.
CIRCUITS: dict[str, Callable[..., CircuitSpec]] = {
    "demo": account_membership_spec,
    "batch": lazy_spec("prover.proving.batch_circuit:batch_spec"),
}


def register_circuit(name: str, factory: Callable[..., CircuitSpec]) -> None:
    """Add a circuit to :data:`CIRCUITS` (for example ``register_circuit("batch", batch_spec)``)."""
    CIRCUITS[name] = factory


def circuit_spec(name: str, **params: Any) -> CircuitSpec:
    """The spec registered as ``name``; a clear error listing the known names otherwise."""
    try:
        factory = CIRCUITS[name]
    except KeyError:
        known = ", ".join(sorted(CIRCUITS))
        raise ZkmatchError(f"unknown circuit {name!r}; known circuits: {known}") from None
    return factory(**params)
