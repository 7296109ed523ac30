"""ECDH on Baby Jubjub and the Poseidon cipher, compatible with @zk-kit/poseidon-cipher.

The cipher is the one MACI encrypts its messages with (Khovratovich's Poseidon
encryption, in Koh's implementation that zk-kit ships): a width-4 Poseidon sponge in
duplex mode keyed by the ECDH shared point.

* state ``= [0, K.x, K.y, nonce + len * 2^128]``, ``nonce < 2^128``;
* the plaintext is padded with zeros to a multiple of 3; for each block of 3 the
  state is permuted, the block is added to ``state[1..3]`` and those three values are
  the ciphertext block (they stay in the state);
* a final permutation; ``state[1]`` is appended as the authentication element.

A ciphertext of a ``len``-element plaintext therefore has ``3 * ceil(len / 3) + 1``
elements. :func:`decrypt` is stricter than zk-kit's: it checks that length, that
every value is a field element and that *all* padding elements decrypt to zero
(zk-kit checks the padding only when ``len > 3``). Ciphertexts made by zk-kit always
pass these checks.

ECDH scalar: for a zkmatch EdDSA key use :func:`prover.crypto.eddsa.secret_scalar`
(``prune(BLAKE-512(key)[0:32]) >> 3``), as MACI's ``genEcdhSharedKey`` does with
``formatPrivKeyForBabyJub``; :func:`shared_key` does this for you. Both parties then
get ``s_a * s_b * BASE8``.
"""

from __future__ import annotations

from collections.abc import Sequence

from prover.crypto import babyjub
from prover.crypto.babyjub import IDENTITY, Point
from prover.crypto.eddsa import PrivateKey, secret_scalar
from prover.crypto.poseidon_hash import permutation_function
from prover.errors import CipherError, CurveError, FieldError
from prover.field import SNARK_FIELD

P = SNARK_FIELD
#: Nonces are below 2^128 (the length is packed above them in one field element).
NONCE_LIMIT = 1 << 128


def ecdh(private_scalar: int, point: Point, *, require_subgroup: bool = True) -> Point:
    """The shared point ``private_scalar * point``.

    ``private_scalar`` is the Baby Jubjub scalar (see :func:`secret_scalar`), not the
    32-byte key. Raises :class:`CurveError` if ``point`` is off the curve, is the
    identity, or (unless ``require_subgroup=False``) lies outside the prime-order
    subgroup - a point with a small-order component would leak ``scalar mod 8`` - and
    if the shared point is the identity (a scalar that is a multiple of the order).
    The circuit must treat such a key the same way the caller does.
    """
    if (
        isinstance(private_scalar, bool)
        or not isinstance(private_scalar, int)
        or private_scalar <= 0
    ):
        raise FieldError("ECDH scalar must be a positive int")
    pt = babyjub.check_point(point, subgroup=require_subgroup)
    if pt == IDENTITY:
        raise CurveError("ECDH with the identity point")
    shared = babyjub.mul(pt, private_scalar)
    if shared == IDENTITY:  # the scalar is a multiple of the point's order
        raise CurveError("ECDH produced the identity point")
    return shared


def shared_key(
    private_key: bytes | PrivateKey, point: Point, *, require_subgroup: bool = True
) -> Point:
    """ECDH between an EdDSA private key (bytes or :class:`PrivateKey`) and a public point."""
    return ecdh(secret_scalar(private_key), point, require_subgroup=require_subgroup)


def ciphertext_length(length: int) -> int:
    """Number of ciphertext elements for a plaintext of ``length`` elements."""
    return 3 * -(-length // 3) + 1


def _check_key(key: object) -> tuple[int, int]:
    if not isinstance(key, tuple | list) or len(key) != 2:
        raise CipherError("the cipher key is a point (x, y)")
    if not babyjub.on_curve(key):
        raise CipherError("the cipher key is not a Baby Jubjub point")
    return key[0], key[1]


def _check_nonce(nonce: object) -> int:
    if isinstance(nonce, bool) or not isinstance(nonce, int) or not 0 <= nonce < NONCE_LIMIT:
        raise CipherError("nonce must be an int in [0, 2^128)")
    return nonce


def _is_element(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < P


def _initial_state(key: tuple[int, int], nonce: int, length: int) -> list[int]:
    return [0, key[0], key[1], nonce + length * NONCE_LIMIT]


def encrypt(plaintext: Sequence[int], key: Point, nonce: int) -> list[int]:
    """Encrypt field elements under the shared point ``key`` (zk-kit ``poseidonEncrypt``).

    Raises :class:`FieldError` for a non-field plaintext element and
    :class:`CipherError` for a bad key or a nonce outside ``[0, 2^128)``.
    """
    k = _check_key(key)
    nonce = _check_nonce(nonce)
    message = list(plaintext)
    for i, v in enumerate(message):
        if not _is_element(v):
            raise FieldError(f"plaintext element {i} is not a field element: {v!r}")
    length = len(message)
    message += [0] * (-length % 3)
    # Inputs are validated above: call the compiled width-4 permutation directly.
    permute = permutation_function(4)
    state = _initial_state(k, nonce, length)
    out: list[int] = []
    for i in range(0, len(message), 3):
        state = list(permute(*state))
        for j in range(3):
            state[j + 1] = (state[j + 1] + message[i + j]) % P
        out.extend(state[1:4])
    out.append(permute(*state)[1])
    return out


def decrypt(ciphertext: Sequence[int], key: Point, nonce: int, length: int) -> list[int]:
    """Decrypt and authenticate (zk-kit ``poseidonDecrypt``, with stricter checks).

    Raises :class:`CipherError` if the ciphertext has the wrong number of elements for
    ``length``, holds a non-field value, the nonce is outside ``[0, 2^128)``, the key is
    not a curve point, the padding does not decrypt to zeros, or the authentication
    element does not match.
    """
    k = _check_key(key)
    nonce = _check_nonce(nonce)
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise CipherError("plaintext length must be a non-negative int")
    ct = list(ciphertext)
    if len(ct) != ciphertext_length(length):
        raise CipherError(
            f"a {length}-element plaintext has {ciphertext_length(length)} ciphertext "
            f"elements, got {len(ct)}"
        )
    if not all(_is_element(v) for v in ct):
        raise CipherError("ciphertext holds a value that is not a field element")
    # Inputs are validated above: call the compiled width-4 permutation directly.
    permute = permutation_function(4)
    state = _initial_state(k, nonce, length)
    message: list[int] = []
    for i in range(0, len(ct) - 1, 3):
        state = list(permute(*state))
        for j in range(3):
            message.append((ct[i + j] - state[j + 1]) % P)
            state[j + 1] = ct[i + j]
    tag = permute(*state)[1]
    if tag != ct[-1]:
        raise CipherError("authentication failed: wrong key, nonce, length or tampered ciphertext")
    if any(message[length:]):
        raise CipherError("padding does not decrypt to zero")
    return message[:length]
