"""The Python Groth16 verifier (prover/verifier/groth16.py) against snarkjs, on a small
circuit set up here (2^8 development ptau, one contribution, two public inputs).

Every proof is checked by both verifiers: they agree on the honest proofs and on each
tamper. Malformed keys, proofs and public inputs are a VerifierError naming the problem,
never a crash or a silent True.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from py_ecc.fields import optimized_bn128_FQ2 as FQ2
from py_ecc.optimized_bn128 import b2, curve_order, field_modulus, is_on_curve

from prover.toolchain import ptau as P
from prover.verifier.groth16 import (
    Proof,
    VerificationKey,
    VerifierError,
    public_inputs,
    verify,
)

ROOT = Path(__file__).resolve().parents[2]
SNARKJS = ROOT / "node_modules" / "snarkjs" / "build" / "cli.cjs"
CIRCOM = ROOT / "node_modules" / "circom2" / "cli.js"

# Two public inputs (a, and the output c), so vk_x sums two IC points.
CIRCUIT = """\
pragma circom 2.0.0;
template T() {
    signal input a;
    signal input b;
    signal output c;
    signal d <== a * b;
    c <== d * a + b;
}
component main {public [a]} = T();
"""


def _run(args: list[str], cwd: Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    if ok:
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


def _snarkjs(*args: str, cwd: Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    return _run(["node", str(SNARKJS), *args], cwd, ok)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("node") is None or not SNARKJS.is_file():
        pytest.fail("node and node_modules are needed: run `make setup`")
    d = tmp_path_factory.mktemp("groth16")
    P.generate_dev_ptau(8, d / "pot.ptau", seed=b"zkmatch-verifier-test", progress=lambda _: None)
    (d / "t.circom").write_text(CIRCUIT)
    _run(["node", str(CIRCOM), "t.circom", "--r1cs", "--wasm", "-o", "."], d)
    _snarkjs("groth16", "setup", "t.r1cs", "pot.ptau", "t0.zkey", cwd=d)
    _snarkjs("zkey", "contribute", "t0.zkey", "t.zkey", "-e=verifier test", cwd=d)
    _snarkjs("zkey", "export", "verificationkey", "t.zkey", "vk.json", cwd=d)
    for n, (a, b) in enumerate(((3, 11), (0, 5))):
        (d / f"in{n}.json").write_text(json.dumps({"a": str(a), "b": str(b)}))
        _snarkjs("wtns", "calculate", "t_js/t.wasm", f"in{n}.json", f"w{n}.wtns", cwd=d)
        _snarkjs("groth16", "prove", "t.zkey", f"w{n}.wtns", f"proof{n}.json", f"public{n}.json",
                 cwd=d)
    return d


def _snarkjs_accepts(d: Path, proof: dict, public: list) -> bool:
    (d / "p.json").write_text(json.dumps(proof))
    (d / "s.json").write_text(json.dumps(public))
    done = _snarkjs("groth16", "verify", "vk.json", "s.json", "p.json", cwd=d, ok=False)
    return done.returncode == 0 and "OK!" in done.stdout


def _load(d: Path, n: int) -> tuple[dict, list]:
    return json.loads((d / f"proof{n}.json").read_text()), json.loads(
        (d / f"public{n}.json").read_text()
    )


@pytest.fixture(scope="module")
def vk(setup: Path) -> VerificationKey:
    return VerificationKey.load(setup / "vk.json")


@pytest.mark.parametrize("n", [0, 1])
def test_honest_proofs_verify(setup, vk, n):
    proof, public = _load(setup, n)
    assert public == [str(3 * 11 * 3 + 11), "3"] if n == 0 else [str(5), "0"]
    assert verify(vk, Proof.from_json(proof), public_inputs(public))
    assert _snarkjs_accepts(setup, proof, public)


def _neg_g1(point: list) -> list:
    return [point[0], str(field_modulus - int(point[1])), point[2]]


TAMPERS = {
    "public input + 1": lambda p, s: (p, [str(int(s[0]) + 1), s[1]]),
    "public inputs swapped": lambda p, s: (p, [s[1], s[0]]),
    "other proof's public inputs": lambda p, s: (p, ["5", "0"]),
    "A negated": lambda p, s: ({**p, "pi_a": _neg_g1(p["pi_a"])}, s),
    "C negated": lambda p, s: ({**p, "pi_c": _neg_g1(p["pi_c"])}, s),
    "A and C swapped": lambda p, s: ({**p, "pi_a": p["pi_c"], "pi_c": p["pi_a"]}, s),
}


@pytest.mark.parametrize("name", list(TAMPERS))
def test_false_proofs_are_rejected_by_both(setup, vk, name):
    proof, public = TAMPERS[name](*_load(setup, 0))
    assert not verify(vk, Proof.from_json(proof), public_inputs(public))
    assert not _snarkjs_accepts(setup, proof, public)


def test_public_input_plus_the_field_modulus_is_malformed(setup):
    proof, public = _load(setup, 0)
    with pytest.raises(VerifierError, match="not below the field"):
        public_inputs([str(int(public[0]) + curve_order), public[1]])
    assert not _snarkjs_accepts(setup, proof, [str(int(public[0]) + curve_order), public[1]])


def test_wrong_number_of_public_inputs(setup, vk):
    proof, public = _load(setup, 0)
    with pytest.raises(VerifierError, match="1 public inputs for a key that takes 2"):
        verify(vk, Proof.from_json(proof), public_inputs(public[:1]))


def _twist_point_outside_the_subgroup() -> list:
    """A point of the twist E'(Fp2) that is not in the order-r subgroup: some x with
    x^3 + b2 a square (the cofactor is about r, so a random point is outside)."""
    p = field_modulus

    def sqrt_fp(a: int) -> int | None:
        r = pow(a, (p + 1) // 4, p)
        return r if r * r % p == a % p else None

    for x0 in range(1, 100):
        x = FQ2([x0, 1])
        rhs = x**3 + b2
        a, b = (int(c) for c in rhs.coeffs)
        n = sqrt_fp((a * a + b * b) % p)
        if n is None:
            continue
        for s in (n, p - n):
            t = sqrt_fp((a + s) * pow(2, -1, p) % p)
            if t is None or t == 0:
                continue
            y = FQ2([t, b * pow(2 * t, -1, p) % p])
            if y * y == rhs:
                point = (x, y, FQ2.one())
                assert is_on_curve(point, b2)
                return [[str(int(c)) for c in x.coeffs], [str(int(c)) for c in y.coeffs],
                        ["1", "0"]]
    raise AssertionError("no twist point found")


MALFORMED = {
    "B outside the subgroup": (lambda p: {**p, "pi_b": _twist_point_outside_the_subgroup()},
                               "not in the prime-order subgroup"),
    "A off the curve": (lambda p: {**p, "pi_a": [p["pi_a"][0], str(int(p["pi_a"][1]) ^ 1), "1"]},
                        "not on the curve"),
    "B off the twist": (lambda p: {**p, "pi_b": [p["pi_b"][0], [p["pi_b"][1][0], "1"],
                                                 ["1", "0"]]}, "not on the twist"),
    "coordinate + p": (lambda p: {**p, "pi_c": [str(int(p["pi_c"][0]) + field_modulus),
                                                p["pi_c"][1], "1"]}, "not below the field"),
    "point at infinity": (lambda p: {**p, "pi_a": ["0", "1", "0"]}, "affine"),
    "not a number": (lambda p: {**p, "pi_c": ["0x12", p["pi_c"][1], "1"]}, "decimal number"),
    "a missing point": (lambda p: {k: v for k, v in p.items() if k != "pi_b"}, "pi_b"),
    "wrong protocol": (lambda p: {**p, "protocol": "plonk"}, "not a Groth16 proof"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_proofs_are_refused(setup, name):
    change, message = MALFORMED[name]
    proof, _ = _load(setup, 0)
    with pytest.raises(VerifierError, match=message):
        Proof.from_json(change(copy.deepcopy(proof)))


def test_malformed_keys_are_refused(setup):
    key = json.loads((setup / "vk.json").read_text())
    for change, message in (
        (lambda k: {**k, "curve": "bls12381"}, "not a Groth16 BN254 key"),
        (lambda k: {**k, "IC": k["IC"][:1]}, "nPublic 2 but 1 IC points"),
        (lambda k: {**k, "vk_gamma_2": _twist_point_outside_the_subgroup()}, "subgroup"),
        (lambda k: {**k, "vk_alpha_1": [k["vk_alpha_1"][1], k["vk_alpha_1"][0], "1"]},
         "not on the curve"),
        (lambda k: [], "a verification key is a JSON object"),
    ):
        with pytest.raises(VerifierError, match=message):
            VerificationKey.from_json(change(copy.deepcopy(key)))


def test_files_that_are_not_json(setup, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(VerifierError, match="not valid JSON"):
        Proof.load(bad)
    with pytest.raises(VerifierError, match="cannot read"):
        VerificationKey.load(tmp_path / "missing.json")
