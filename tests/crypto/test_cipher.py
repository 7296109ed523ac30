"""ECDH and the Poseidon cipher, interoperating with @zk-kit/poseidon-cipher both ways."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prover.crypto import babyjub, cipher, eddsa
from prover.crypto.babyjub import BASE8, IDENTITY
from prover.crypto.cipher import NONCE_LIMIT, ciphertext_length, decrypt, ecdh, encrypt, shared_key
from prover.crypto.eddsa import PrivateKey
from prover.crypto.poseidon_hash import poseidon_permutation
from prover.errors import CipherError, CurveError, FieldError
from prover.field import SNARK_FIELD as P
from tests.crypto.jsref import dec, reference

ALICE = PrivateKey.from_seed("alice")
OPERATOR = PrivateKey.from_seed("operator")
KEY = shared_key(ALICE, OPERATOR.public_key)
_x4 = babyjub.sqrt(pow(babyjub.A, -1, P))
assert _x4 is not None
ORDER4 = (_x4, 0)


def test_ecdh_agrees_both_ways() -> None:
    assert shared_key(OPERATOR, ALICE.public_key) == KEY
    assert ecdh(ALICE.scalar, OPERATOR.public_key) == KEY
    assert babyjub.mul_base8(ALICE.scalar * OPERATOR.scalar) == KEY


def test_ecdh_rejects_bad_points() -> None:
    for pt in (IDENTITY, (1, 1), ORDER4, babyjub.add(OPERATOR.public_key, ORDER4)):
        with pytest.raises(CurveError):
            ecdh(ALICE.scalar, pt)
    # opting out of the subgroup check still refuses off-curve points and the identity
    mixed = babyjub.add(OPERATOR.public_key, ORDER4)
    assert ecdh(ALICE.scalar, mixed, require_subgroup=False) == babyjub.mul(mixed, ALICE.scalar)
    with pytest.raises(CurveError):
        ecdh(ALICE.scalar, (1, 1), require_subgroup=False)
    with pytest.raises(CurveError):
        ecdh(babyjub.SUBORDER * 3, OPERATOR.public_key)
    for k in (0, -1, 1.5, True):
        with pytest.raises(FieldError):
            ecdh(k, BASE8)  # type: ignore[arg-type]


field = st.integers(min_value=0, max_value=P - 1)


@settings(max_examples=25, deadline=None)
@given(st.lists(field, max_size=10), st.integers(min_value=0, max_value=NONCE_LIMIT - 1))
def test_roundtrip(msg: list[int], nonce: int) -> None:
    ct = encrypt(msg, KEY, nonce)
    assert len(ct) == ciphertext_length(len(msg))
    assert decrypt(ct, KEY, nonce, len(msg)) == msg


def test_decrypt_rejects() -> None:
    msg = [1, 2, 3, 4, 5, 6, 7]
    ct = encrypt(msg, KEY, 5)
    other_key = shared_key(ALICE, PrivateKey.from_seed("eve").public_key)
    bad_calls = [
        (ct[:-1] + [(ct[-1] + 1) % P], KEY, 5, 7),  # authentication element
        ([(ct[0] + 1) % P, *ct[1:]], KEY, 5, 7),  # tampered body
        (ct, other_key, 5, 7),  # wrong key
        (ct, KEY, 6, 7),  # wrong nonce
        (ct, KEY, 5, 8),  # wrong length (same ciphertext size)
        (ct, KEY, 5, 6),
        (ct, KEY, 5, 4),  # ciphertext too long for the length
        (ct[:-1], KEY, 5, 7),
        (ct + [0], KEY, 5, 7),
        (ct, KEY, NONCE_LIMIT, 7),
        (ct, KEY, -1, 7),
        (ct, KEY, 5, -1),
        ([*ct[:-1], P], KEY, 5, 7),  # non-field values
        ([*ct[:-1], -1], KEY, 5, 7),
        ([*ct[:-1], "1"], KEY, 5, 7),
        (ct, (1, 1), 5, 7),  # key off the curve
        (ct, 5, 5, 7),
    ]
    for args in bad_calls:
        with pytest.raises(CipherError):
            decrypt(*args)  # type: ignore[arg-type]


def _encrypt_with_padding(
    block: list[int], key: tuple[int, int], nonce: int, length: int
) -> list[int]:
    """Encrypt one raw 3-element block while declaring ``length``: lets the padding be non-zero."""
    state = poseidon_permutation([0, key[0], key[1], nonce + length * NONCE_LIMIT])
    body = [(state[i + 1] + block[i]) % P for i in range(3)]
    return [*body, poseidon_permutation([state[0], *body])[1]]


def test_decrypt_checks_padding_for_short_messages() -> None:
    """zk-kit checks the padding only for length > 3; we always do. A ciphertext with
    non-zero padding can only be made with the key, but it is not canonical."""
    assert _encrypt_with_padding([9, 0, 0], KEY, 1, 1) == encrypt([9], KEY, 1)
    ct = _encrypt_with_padding([9, 8, 7], KEY, 1, 1)
    with pytest.raises(CipherError, match="padding"):
        decrypt(ct, KEY, 1, 1)
    ans = reference([{"op": "decrypt", "ct": dec(ct), "key": dec(KEY), "nonce": "1", "length": 1}])
    assert ans == [["9"]]  # zk-kit accepts it: documented difference


def test_encrypt_rejects() -> None:
    with pytest.raises(FieldError):
        encrypt([P], KEY, 0)
    with pytest.raises(FieldError):
        encrypt([-1], KEY, 0)
    with pytest.raises(CipherError):
        encrypt([1], KEY, NONCE_LIMIT)
    with pytest.raises(CipherError):
        encrypt([1], (0, 2), 0)


def test_interoperates_with_zkkit() -> None:
    rng = random.Random(21)
    keys = [KEY, shared_key(OPERATOR, PrivateKey.from_seed("bob").public_key)]
    cases = [
        ([rng.randrange(P) for _ in range(n)], keys[n % 2], rng.randrange(NONCE_LIMIT))
        for n in (1, 2, 3, 4, 5, 6, 7, 8, 10)
    ] + [([P - 1] * 7, KEY, NONCE_LIMIT - 1), ([0] * 7, KEY, 0)]
    ours = [encrypt(m, k, n) for m, k, n in cases]
    bad = ours[6][:-1] + [(ours[6][-1] + 1) % P]
    req: list[dict] = [
        {"op": "encrypt", "msg": dec(m), "key": dec(k), "nonce": str(n)} for m, k, n in cases
    ]
    req += [
        {"op": "decrypt", "ct": dec(c), "key": dec(k), "nonce": str(n), "length": len(m)}
        for (m, k, n), c in zip(cases, ours, strict=True)
    ]
    req.append(
        {"op": "decrypt", "ct": dec(bad), "key": dec(KEY), "nonce": str(cases[6][2]), "length": 7}
    )
    # ECDH: zk-kit's secret scalar times our public key gives our shared key
    req.append({"op": "ecdh", "key": ALICE.key.hex(), "point": dec(OPERATOR.public_key)})
    ans = reference(req)
    n = len(cases)
    for (m, k, nonce), mine, theirs in zip(cases, ours, ans[:n], strict=True):
        assert theirs == dec(mine)  # same ciphertext from both
        assert decrypt([int(v) for v in theirs], k, nonce, len(m)) == m
    for (m, _, _), plain in zip(cases, ans[n : 2 * n], strict=True):
        assert plain == dec(m)  # zk-kit decrypts ours
    assert "error" in ans[2 * n]
    assert ans[2 * n + 1] == dec(KEY)
    assert eddsa.secret_scalar(ALICE) > 0 and cipher.NONCE_LIMIT == 2**128
