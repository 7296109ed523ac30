"""EdDSA-Poseidon: keys, signatures, key files; cross-checked with circomlibjs, zk-kit
and circomlib's EdDSAPoseidonVerifier circuit."""

from __future__ import annotations

import json
import os
import random
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prover.crypto import babyjub, eddsa
from prover.crypto.babyjub import IDENTITY, SUBORDER
from prover.crypto.eddsa import PrivateKey, Signature, sign, verify
from prover.errors import FieldError, KeyFileError, SignatureError
from prover.field import SNARK_FIELD as P
from tests.crypto.jsref import compile_circuit, dec, reference, witness_outputs

_x4 = babyjub.sqrt(pow(babyjub.A, -1, P))
assert _x4 is not None
ORDER4 = (_x4, 0)

KEYS = [bytes(range(32)), bytes(32), b"\xff" * 32] + [
    random.Random(i).randbytes(32) for i in range(2)
]
MESSAGES = [0, 1, 12345, P - 1, random.Random(99).randrange(P)]


def test_derive_private_key() -> None:
    a = eddsa.derive_private_key("alice")
    assert len(a) == 32 and a == eddsa.derive_private_key("alice")
    assert a != eddsa.derive_private_key("bob") and a != eddsa.derive_private_key("alice ")
    assert PrivateKey.from_seed("alice").key == a
    with pytest.raises(SignatureError):
        eddsa.derive_private_key(b"alice")  # type: ignore[arg-type]


def test_secret_scalar_range() -> None:
    for key in KEYS:
        s = eddsa.secret_scalar(key)
        assert 2**251 <= s < 2**252
        assert babyjub.mul_base8(s) == eddsa.public_key(key)


@settings(max_examples=15, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.integers(min_value=0, max_value=P - 1))
def test_sign_verify_roundtrip(key: bytes, msg: int) -> None:
    sig = sign(key, msg)
    pub = eddsa.public_key(key)
    assert 0 <= sig.s < SUBORDER and babyjub.in_subgroup(sig.r8)
    assert verify(pub, msg, sig)
    assert not verify(pub, (msg + 1) % P, sig)
    assert Signature.from_json(json.loads(json.dumps(sig.to_json()))) == sig
    assert Signature.unpack(sig.pack()) == sig


def test_sign_compact() -> None:
    """R8x below 2^252, valid, deterministic; the first nonce is sign's, so it returns
    sign's signature exactly when that one is already compact; a retry never uses the
    negated nonce (R8 = -sign's R8 would leak the key beside sign's signature)."""
    key = PrivateKey.from_seed("compact")
    pub = key.public_key
    same = retried = 0
    for msg in range(40):
        plain, compact = sign(key, msg), eddsa.sign_compact(key, msg)
        assert compact.r8[0] < eddsa.COMPACT_X_BOUND and verify(pub, msg, compact)
        assert compact == eddsa.sign_compact(key, msg)
        if plain.r8[0] < eddsa.COMPACT_X_BOUND:
            assert compact == plain
            same += 1
        else:
            assert compact.r8 != babyjub.neg(plain.r8)
            retried += 1
    assert same and retried  # about 1 in 3 first nonces is compact
    with pytest.raises(FieldError):
        eddsa.sign_compact(key, P)


def _good() -> tuple[PrivateKey, int, Signature]:
    key = PrivateKey.from_seed("verify-cases")
    return key, 42, key.sign(42)


def test_verify_rejects_without_raising() -> None:
    key, msg, sig = _good()
    a = key.public_key
    assert verify(a, msg, sig)
    other = PrivateKey.from_seed("someone else").public_key
    cases = [
        (a, msg + 1, sig),
        (other, msg, sig),
        (a, msg + P, sig),  # msg outside the field (same value mod p)
        (a, -1, sig),
        (a, msg, Signature(sig.r8, sig.s + SUBORDER)),  # malleable S, same mod l
        (a, msg, Signature(sig.r8, sig.s + 1)),
        (a, msg, Signature(sig.r8, -sig.s)),
        (a, msg, Signature(babyjub.add(sig.r8, ORDER4), sig.s)),  # R8 + torsion
        (a, msg, Signature((sig.r8[0], sig.r8[1] + 1), sig.s)),  # R8 off the curve
        (a, msg, Signature((sig.r8[0] + P, sig.r8[1]), sig.s)),  # non-canonical R8
        (babyjub.add(a, ORDER4), msg, sig),  # A not in the subgroup
        ((a[0], a[1] + 1), msg, sig),  # A off the curve
        (IDENTITY, msg, sig),
        (a, msg, sig.to_json()),  # not a Signature object
        (None, msg, sig),
        (a, "42", sig),
        (a, msg, Signature(sig.r8, 1.5)),  # type: ignore[arg-type]
    ]
    for pub, m, s in cases:
        assert verify(pub, m, s) is False, (pub, m, s)  # type: ignore[arg-type]


def test_identity_key_cannot_verify_even_a_valid_equation() -> None:
    """With A = identity any S*B8 = R8 'signs' everything; circomlib's circuit rejects it
    (8A has x = 0) and so must we."""
    r = 12345
    forged = Signature(babyjub.mul_base8(r), r)
    assert not verify(IDENTITY, 7, forged)


def test_sign_rejects_bad_input() -> None:
    with pytest.raises(FieldError):
        sign(KEYS[0], P)
    with pytest.raises(FieldError):
        sign(KEYS[0], -1)
    with pytest.raises(SignatureError):
        sign(b"short", 1)
    with pytest.raises(SignatureError):
        PrivateKey(b"\x00" * 31)


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"R8": ["1", "2"]},
        {"R8": ["1", "2"], "S": "3", "extra": 1},
        {"R8": ["1"], "S": "3"},
        {"R8": "12", "S": "3"},
        {"R8": ["1", "2"], "S": "-3"},
        {"R8": ["1", "2"], "S": "0x10"},
        {"R8": ["1", "2"], "S": str(P)},
        {"R8": [str(P), "2"], "S": "3"},
        {"R8": ["1", True], "S": "3"},
        {"R8": ["1", 2.0], "S": "3"},
    ],
)
def test_signature_from_json_rejects_malformed(data: object) -> None:
    with pytest.raises(SignatureError):
        Signature.from_json(data)


def test_signature_pack_rejects() -> None:
    _, _, sig = _good()
    with pytest.raises(SignatureError):
        Signature(sig.r8, SUBORDER).pack()
    with pytest.raises(SignatureError):
        Signature((1, 1), 1).pack()
    with pytest.raises(SignatureError):
        Signature.unpack(b"\x00" * 63)
    with pytest.raises(SignatureError):
        Signature.unpack(P.to_bytes(32, "little") + bytes(32))


def test_private_key_object() -> None:
    key = PrivateKey.from_seed("x")
    assert key.hex() not in repr(key) and str(key.public_key[0]) in repr(key)
    assert PrivateKey.from_hex(key.hex()) == key == PrivateKey.from_hex("0x" + key.hex())
    assert key.scalar == eddsa.secret_scalar(key.key)
    assert eddsa.KeyPair is PrivateKey
    assert len(PrivateKey.generate().key) == 32
    for bad in ("00", "zz" * 32, 5):
        with pytest.raises(SignatureError):
            PrivateKey.from_hex(bad)  # type: ignore[arg-type]


# --- key files ------------------------------------------------------------------------------


def test_key_file_roundtrip(tmp_path: Path) -> None:
    key = PrivateKey.from_seed("file")
    path = eddsa.save_key_file(tmp_path / "sub" / "trader.json", key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert eddsa.load_key_file(path) == key
    data = json.loads(path.read_text())
    assert data["private_key"] == key.hex()
    with pytest.raises(KeyFileError):
        eddsa.save_key_file(path, PrivateKey.from_seed("other"))
    eddsa.save_key_file(path, PrivateKey.from_seed("other"), overwrite=True)
    assert eddsa.load_key_file(path) == PrivateKey.from_seed("other")
    assert [p.name for p in path.parent.iterdir()] == ["trader.json"]  # no temp files left


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        json.dumps({"type": "other", "version": 1, "private_key": "00" * 32}),
        json.dumps({"type": eddsa.KEY_FILE_TYPE, "version": 2, "private_key": "00" * 32}),
        json.dumps({"type": eddsa.KEY_FILE_TYPE, "version": 1}),
        json.dumps({"type": eddsa.KEY_FILE_TYPE, "version": 1, "private_key": "00" * 31}),
        json.dumps({"type": eddsa.KEY_FILE_TYPE, "version": 1, "private_key": "zz" * 32}),
        json.dumps(
            {
                "type": eddsa.KEY_FILE_TYPE,
                "version": 1,
                "private_key": "00" * 32,
                "public_key": ["1", "2"],
            }
        ),
    ],
)
def test_key_file_malformed(tmp_path: Path, content: str) -> None:
    path = tmp_path / "key.json"
    path.write_text(content)
    os.chmod(path, 0o600)
    with pytest.raises(KeyFileError):
        eddsa.load_key_file(path)


def test_key_file_missing_or_too_open(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError):
        eddsa.load_key_file(tmp_path / "absent.json")
    path = eddsa.save_key_file(tmp_path / "k.json", PrivateKey.from_seed("perm"))
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        eddsa.load_key_file(path)
    assert eddsa.load_key_file(path, check_permissions=False) == PrivateKey.from_seed("perm")


# --- JavaScript cross-check -----------------------------------------------------------------


def test_matches_circomlibjs_and_zkkit() -> None:
    """Same public keys and (deterministic) signatures as circomlibjs and zk-kit; each
    side verifies the other's signatures; tampered ones fail on both sides."""
    req: list[dict] = [{"op": "eddsa_pub", "key": k.hex()} for k in KEYS]
    pairs = [(k, m) for k in KEYS for m in MESSAGES[:2]] + [(KEYS[0], m) for m in MESSAGES[2:]]
    req += [{"op": "eddsa_sign", "key": k.hex(), "msg": str(m)} for k, m in pairs]
    ours = [sign(k, m) for k, m in pairs]
    tampered = [
        (eddsa.public_key(k), (m + 1) % P, s) for (k, m), s in zip(pairs[:4], ours, strict=False)
    ] + [(eddsa.public_key(KEYS[1]), MESSAGES[0], ours[0])]
    checks = [(eddsa.public_key(k), m, s) for (k, m), s in zip(pairs, ours, strict=True)] + tampered
    req += [
        {"op": "eddsa_verify", "pub": dec(a), "msg": str(m), "sig": s.to_json()}
        for a, m, s in checks
    ]
    req += [{"op": "eddsa_unpack_sig", "hex": s.pack().hex()} for s in ours[:3]]
    ans = iter(reference(req))

    for k in KEYS:
        js = next(ans)
        mine = dec(eddsa.public_key(k))
        assert js["circomlibjs"] == mine and js["zkkit"] == mine
        assert int(js["zkkitScalar"]) == eddsa.secret_scalar(k) % SUBORDER
    for (k, m), sig in zip(pairs, ours, strict=True):
        js = next(ans)
        assert js["circomlibjs"] == sig.to_json() and js["zkkit"] == sig.to_json()
        assert js["zkkitPacked"] == sig.pack().hex()
        theirs = Signature.from_json(js["circomlibjs"])
        assert verify(eddsa.public_key(k), m, theirs)
    n_good = len(pairs)
    for i, _ in enumerate(checks):
        js = next(ans)
        expected = i < n_good
        assert js == {"circomlibjs": expected, "zkkit": expected}, i
    for sig in ours[:3]:
        assert Signature.from_json(next(ans)) == sig


# --- circuit cross-check -----------------------------------------------------------------------

VERIFIER_CIRCUIT = """
pragma circom 2.0.0;
include "circomlib/eddsaposeidon.circom";

component main = EdDSAPoseidonVerifier();
"""


@pytest.mark.circuit
def test_matches_circomlib_verifier_circuit() -> None:
    """Signatures made here satisfy circomlib's EdDSAPoseidonVerifier; tampered ones
    make witness generation fail; with enabled = 0 nothing is checked."""
    build = compile_circuit("EdDSAPoseidonVerifier", VERIFIER_CIRCUIT)
    key = PrivateKey.from_seed("circuit")
    a = key.public_key
    other = PrivateKey.from_seed("circuit-other").public_key
    cases: list[tuple[dict[str, Any], bool]] = []
    for msg in (0, 1, P - 1, 987654321):
        sig = key.sign(msg)
        base: dict[str, Any] = {"enabled": 1, "Ax": a[0], "Ay": a[1], "M": msg}
        base.update(sig.as_circuit_inputs())
        cases.append((base, True))
        cases.append(({**base, "M": (msg + 1) % P}, False))
        cases.append(({**base, "S": int(base["S"]) + 1}, False))
        cases.append(({**base, "S": int(base["S"]) + SUBORDER}, False))
        cases.append(({**base, "Ax": other[0], "Ay": other[1]}, False))
        cases.append(({**base, "M": (msg + 1) % P, "enabled": 0}, True))
    inputs = [{k: str(v) for k, v in c.items()} for c, _ in cases]
    outputs = witness_outputs(build, "EdDSAPoseidonVerifier", inputs, 0)
    for (case, ok), out in zip(cases, outputs, strict=True):
        assert (out == []) is ok, (case, out)
        if case["enabled"] == 1:
            sig = Signature((int(case["R8x"]), int(case["R8y"])), int(case["S"]))
            assert verify((int(case["Ax"]), int(case["Ay"])), int(case["M"]), sig) is ok
