"""Development powers of tau: devptau.mjs output and prover.toolchain.ptau resolution.

The end-to-end tests make a real 2^8 file (about two seconds), check it with
``snarkjs powersoftau verify``, set up, prove and verify a two-constraint circuit on it.
Resolution-order tests use copies of that file and a stubbed generator.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from prover.errors import SetupError, ToolError
from prover.toolchain import ptau as P

REPO = Path(__file__).resolve().parents[1]
NODE_MODULES = REPO / "node_modules"
SNARKJS = NODE_MODULES / "snarkjs" / "build" / "cli.cjs"
CIRCOM = NODE_MODULES / "circom2" / "cli.js"
POWER = 8

@pytest.fixture
def _require_node() -> None:
    """A missing toolchain fails loudly: ``make test`` installs it, so absence is a bug."""
    if shutil.which("node") is None or not SNARKJS.is_file():
        pytest.fail("node and node_modules are needed: run `make setup`")


needs_node = pytest.mark.usefixtures("_require_node")

MUL_CIRCOM = """\
pragma circom 2.0.0;

// c = a*b*a + b, two constraints.
template Mul() {
    signal input a;
    signal input b;
    signal output c;
    signal d;
    d <== a * b;
    c <== d * a + b;
}

component main = Mul();
"""


def snarkjs(*args: str | Path, cwd: Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the snarkjs CLI (no shell); assert success unless ``ok`` is False."""
    done = subprocess.run(
        ["node", str(SNARKJS), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    if ok:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the shared ptau folder or the real cache."""
    monkeypatch.delenv("ZKMATCH_PTAU_DIR", raising=False)
    monkeypatch.setenv("ZKMATCH_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def dev8(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded, prepared 2^8 development ptau made once for the module."""
    if shutil.which("node") is None or not SNARKJS.is_file():
        pytest.fail("node and node_modules are needed: run `make setup`")
    out = tmp_path_factory.mktemp("dev8") / "dev_8.ptau"
    lines: list[str] = []
    P.generate_dev_ptau(POWER, out, seed=b"zkmatch-test", progress=lines.append)
    assert any("%" in line for line in lines), "devptau.mjs reported no progress"
    return out


@pytest.fixture(scope="module")
def unprepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid but unprepared ptau (``snarkjs powersoftau new``)."""
    if shutil.which("node") is None or not SNARKJS.is_file():
        pytest.fail("node and node_modules are needed: run `make setup`")
    folder = tmp_path_factory.mktemp("new")
    snarkjs("powersoftau", "new", "bn128", str(POWER), "new_8.ptau", cwd=folder)
    return folder / "new_8.ptau"


# ---- the file itself ---------------------------------------------------------------------


@needs_node
def test_header_of_generated_file(dev8: Path) -> None:
    info = P.read_ptau_header(dev8)
    assert (info.power, info.ceremony_power, info.prepared) == (POWER, POWER, True)
    assert info.sections == (1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15)
    meta = json.loads(dev8.with_name(dev8.name + ".json").read_text())
    assert meta["power"] == POWER and meta["development_only"] is True
    assert meta["ffjavascript"] and meta["snarkjs"] == "0.7.6"


@needs_node
def test_snarkjs_powersoftau_verify_accepts(dev8: Path, tmp_path: Path) -> None:
    done = snarkjs("powersoftau", "verify", dev8, cwd=tmp_path)
    out = done.stdout + done.stderr
    assert "Powers of Tau Ok!" in out
    assert "phase2 precalculated values" not in out  # the Lagrange sections were checked too


@needs_node
def test_groth16_setup_prove_verify(dev8: Path, tmp_path: Path) -> None:
    (tmp_path / "mul.circom").write_text(MUL_CIRCOM)
    (tmp_path / "build").mkdir()
    # circom2 (WASI) sees only files under its working folder.
    subprocess.run(
        ["node", str(CIRCOM), "mul.circom", "--r1cs", "--wasm", "-o", "build"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    shutil.copy(dev8, tmp_path / "pot.ptau")
    snarkjs("groth16", "setup", "build/mul.r1cs", "pot.ptau", "m0.zkey", cwd=tmp_path)
    snarkjs("zkey", "contribute", "m0.zkey", "m1.zkey", "-e=test entropy", cwd=tmp_path)
    assert (
        "ZKey Ok!"
        in snarkjs("zkey", "verify", "build/mul.r1cs", "pot.ptau", "m1.zkey", cwd=tmp_path).stdout
    )
    snarkjs("zkey", "export", "verificationkey", "m1.zkey", "vk.json", cwd=tmp_path)
    (tmp_path / "input.json").write_text(json.dumps({"a": "3", "b": "11"}))
    snarkjs("wtns", "calculate", "build/mul_js/mul.wasm", "input.json", "w.wtns", cwd=tmp_path)
    snarkjs("groth16", "prove", "m1.zkey", "w.wtns", "proof.json", "public.json", cwd=tmp_path)
    assert json.loads((tmp_path / "public.json").read_text()) == ["110"]
    assert (
        "OK!"
        in snarkjs("groth16", "verify", "vk.json", "public.json", "proof.json", cwd=tmp_path).stdout
    )
    # and the check is not vacuous: a wrong public output is rejected
    (tmp_path / "public.json").write_text(json.dumps(["111"]))
    bad = snarkjs(
        "groth16", "verify", "vk.json", "public.json", "proof.json", cwd=tmp_path, ok=False
    )
    assert bad.returncode != 0 and "Invalid proof" in bad.stdout + bad.stderr


@needs_node
def test_seed_is_deterministic(dev8: Path, tmp_path: Path) -> None:
    again = P.generate_dev_ptau(
        POWER, tmp_path / "a.ptau", seed=b"zkmatch-test", progress=lambda _: None
    )
    other = P.generate_dev_ptau(
        POWER, tmp_path / "b.ptau", seed=b"another seed", progress=lambda _: None
    )
    assert again.read_bytes() == dev8.read_bytes()
    assert other.read_bytes() != dev8.read_bytes()
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"a.ptau", "a.ptau.json", "b.ptau", "b.ptau.json"}, "temporary files left"


# ---- header parsing and --ptau checks ------------------------------------------------------


@needs_node
def test_explicit_ptau_accepted(dev8: Path) -> None:
    assert P.resolve_ptau(POWER, dev8) == dev8.resolve()
    assert P.resolve_ptau(3, dev8) == dev8.resolve()  # a larger file serves a smaller circuit


@needs_node
def test_explicit_ptau_too_small(dev8: Path) -> None:
    with pytest.raises(SetupError, match="power 8 but this circuit needs at least 9"):
        P.resolve_ptau(POWER + 1, dev8)


@needs_node
def test_explicit_ptau_unprepared(unprepared: Path) -> None:
    info = P.read_ptau_header(unprepared)
    assert not info.prepared and info.power == POWER
    with pytest.raises(SetupError, match="not prepared for phase 2"):
        P.resolve_ptau(4, unprepared)


def test_explicit_ptau_missing(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="does not exist"):
        P.resolve_ptau(4, tmp_path / "nope.ptau")


def test_not_a_ptau(tmp_path: Path) -> None:
    bad = tmp_path / "x.ptau"
    bad.write_bytes(b"r1cs" + bytes(100))
    with pytest.raises(SetupError, match="not a powers-of-tau file"):
        P.resolve_ptau(4, bad)


@needs_node
def test_truncated_file_rejected(dev8: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.ptau"
    cut.write_bytes(dev8.read_bytes()[:-1000])
    with pytest.raises(SetupError, match="truncated"):
        P.resolve_ptau(4, cut)


@needs_node
def test_wrong_section_size_rejected(dev8: Path, tmp_path: Path) -> None:
    data = bytearray(dev8.read_bytes())
    # header section: patch the power field (after id, size, n8, q) to 9
    offset = 12 + 12 + 4 + 32
    assert struct.unpack_from("<I", data, offset)[0] == POWER
    struct.pack_into("<I", data, offset, POWER + 1)
    bad = tmp_path / "bad.ptau"
    bad.write_bytes(bytes(data))
    with pytest.raises(SetupError, match="corrupt"):
        P.read_ptau_header(bad)


@needs_node
def test_sha256sums_mismatch_rejected(dev8: Path, tmp_path: Path) -> None:
    copy = tmp_path / "dev_8.ptau"
    data = bytearray(dev8.read_bytes())
    data[-5] ^= 1  # a flipped bit deep in the points: the header cannot see it
    copy.write_bytes(bytes(data))
    (tmp_path / "SHA256SUMS").write_text(f"{'0' * 64}  dev_8.ptau\n")
    with pytest.raises(SetupError, match="checksum"):
        P.resolve_ptau(4, copy)


def test_required_power_matches_snarkjs() -> None:
    # snarkjs: cirPower = log2(nConstraints + nPubInputs + nOutputs) + 1 (floor log2)
    assert P.required_power(2, 0, 1) == 2
    assert P.required_power(1) == 1
    assert P.required_power(255, 0, 0) == 8
    assert P.required_power(255, 1, 0) == 9


# ---- resolution order ----------------------------------------------------------------------


@pytest.fixture
def fake_generate(monkeypatch: pytest.MonkeyPatch, dev8: Path) -> Iterator[list[int]]:
    """Replace the generator by a copy of dev8 (whatever power is asked) and log the calls."""
    calls: list[int] = []

    def fake(power: int, out: Path, seed: bytes | None = None, progress: object = None) -> Path:
        calls.append(power)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(dev8, out)
        meta = {"sha256": P.file_sha256(out), "power": POWER}
        out.with_name(out.name + ".json").write_text(json.dumps(meta))
        return out

    monkeypatch.setattr(P, "generate_dev_ptau", fake)
    yield calls


@needs_node
def test_resolve_prefers_env_dir(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    dev8: Path,
    unprepared: Path,
    fake_generate: list[int],
) -> None:
    env_dir = tmp_path / "shared"
    env_dir.mkdir()
    shutil.copy(dev8, env_dir / "some_name.ptau")  # any *.ptau, judged by its header
    shutil.copy(unprepared, env_dir / "a_unprepared.ptau")  # skipped: not prepared
    (env_dir / "broken.ptau").write_bytes(b"junk")  # skipped: unreadable
    monkeypatch.setenv("ZKMATCH_PTAU_DIR", str(env_dir))
    fake_generate_cache = P.cache_dir()
    fake_generate_cache.mkdir(parents=True)
    shutil.copy(dev8, fake_generate_cache / "dev_8.ptau")
    notes: list[str] = []
    assert P.resolve_ptau(5, progress=notes.append) == (env_dir / "some_name.ptau").resolve()
    assert any("skipping" in n and "broken.ptau" in n for n in notes)
    assert fake_generate == []


@needs_node
def test_resolve_env_dir_too_small_falls_through(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    dev8: Path,
    fake_generate: list[int],
    capfd: pytest.CaptureFixture[str],
) -> None:
    env_dir = tmp_path / "shared"
    env_dir.mkdir()
    shutil.copy(dev8, env_dir / "dev_8.ptau")
    monkeypatch.setenv("ZKMATCH_PTAU_DIR", str(env_dir))
    # needs 2^9: the env file is too small, the cache is empty, so it generates 2^9
    path = P.resolve_ptau(9, progress=lambda _: None)
    assert path == P.cache_dir() / "dev_9.ptau"
    assert fake_generate == [9]
    err = capfd.readouterr().err
    assert "DEVELOPMENT ONLY" in err and "NOT FOR PRODUCTION" in err and "--ptau" in err


@needs_node
def test_resolve_uses_cache_then_generates_min_power(
    tmp_path: Path, fake_generate: list[int], capfd: pytest.CaptureFixture[str]
) -> None:
    first = P.resolve_ptau(3, progress=lambda _: None)  # rounded up to the minimum power
    assert first == P.cache_dir() / f"dev_{P.MIN_DEV_POWER}.ptau"
    assert fake_generate == [P.MIN_DEV_POWER]
    assert "DEVELOPMENT ONLY" in capfd.readouterr().err
    again = P.resolve_ptau(5, progress=lambda _: None)  # served from the cache, no warning
    assert again == first and fake_generate == [P.MIN_DEV_POWER]
    assert "DEVELOPMENT ONLY" not in capfd.readouterr().err


@needs_node
def test_resolve_regenerates_corrupt_cache_entry(
    tmp_path: Path, dev8: Path, fake_generate: list[int]
) -> None:
    cached = P.resolve_ptau(POWER, progress=lambda _: None)
    data = bytearray(cached.read_bytes())
    data[-5] ^= 1
    cached.write_bytes(bytes(data))
    notes: list[str] = []
    assert P.resolve_ptau(POWER, progress=notes.append) == cached
    assert any("checksum" in n for n in notes)
    assert fake_generate == [POWER, POWER]
    assert cached.read_bytes() == dev8.read_bytes()


@needs_node
def test_resolve_generates_for_real(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    lines: list[str] = []
    path = P.resolve_ptau(2, progress=lines.append)
    assert path == P.cache_dir() / f"dev_{P.MIN_DEV_POWER}.ptau"
    assert P.read_ptau_header(path).prepared
    assert any("[12] tauG1 Lagrange" in line for line in lines)
    assert "DEVELOPMENT ONLY" in capfd.readouterr().err


# ---- the node side -------------------------------------------------------------------------


def test_build_command_is_pure(tmp_path: Path) -> None:
    argv = P.build_command(
        10, tmp_path / "o.ptau", b"\x01\xff", node="/n/node", node_modules=Path("/nm")
    )
    assert argv == [
        "/n/node",
        str(P.DEVPTAU_SCRIPT),
        "10",
        str(tmp_path / "o.ptau"),
        "--node-modules",
        "/nm",
        "--seed",
        "01ff",
    ]
    with pytest.raises(SetupError):
        P.build_command(P.MAX_DEV_POWER + 1, tmp_path / "o.ptau")


def test_missing_node_is_a_tool_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZKMATCH_NODE", str(tmp_path / "no-node"))
    with pytest.raises(ToolError, match="ZKMATCH_NODE=.*no-node is not an executable"):
        P.generate_dev_ptau(POWER, tmp_path / "x.ptau")
    monkeypatch.delenv("ZKMATCH_NODE")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolError, match="make setup"):
        P.generate_dev_ptau(POWER, tmp_path / "x.ptau")


@needs_node
def test_missing_node_modules_is_a_tool_error(tmp_path: Path) -> None:
    argv = P.build_command(POWER, tmp_path / "x.ptau", node_modules=tmp_path / "nm")
    with pytest.raises(ToolError, match="make setup"):
        P.run(argv, tmp_path, tmp_path / "x.ptau", progress=lambda _: None)
    assert not (tmp_path / "x.ptau").exists()


@needs_node
def test_interrupted_generation_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "x.ptau"
    argv = P.build_command(14, out, b"seed", node=P.find_node())
    proc = subprocess.Popen(argv, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "[2] tauG1" in line:  # the temporary file exists by now
            break
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@needs_node
def test_power_16_verifies(tmp_path: Path) -> None:
    """The size the docs quote (about 40 s to write, 45 s for snarkjs to verify here)."""
    out = P.generate_dev_ptau(16, tmp_path / "dev_16.ptau", progress=lambda _: None)
    assert "Powers of Tau Ok!" in snarkjs("powersoftau", "verify", out, cwd=tmp_path).stdout
