"""EdDSA-Poseidon on Baby Jubjub, as circomlib's ``EdDSAPoseidonVerifier`` checks it.

Keys and signatures are those of circomlibjs (``eddsa.prv2pub``, ``signPoseidon``)
and of zk-kit's ``@zk-kit/eddsa-poseidon`` in its "blake-1" flavour (the default
export of v1.1.0 is "blake-1" too):

* a private key is 32 random bytes; ``h = BLAKE-512(key)``;
* the secret scalar is ``s = prune(h[0:32])`` read little-endian, where prune
  clears the low 3 bits, clears bit 255 and sets bit 254; the public key is
  ``A = (s >> 3) * BASE8`` (:func:`secret_scalar` returns ``s >> 3``, MACI's
  ``formatPrivKeyForBabyJub``; zk-kit's ``deriveSecretScalar`` is that mod SUBORDER);
* signing ``M`` (a field element): ``r = LE(BLAKE-512(h[32:64] || LE32(M))) mod l``,
  ``R8 = r * BASE8``, ``hm = Poseidon(R8x, R8y, Ax, Ay, M)``, ``S = (r + hm * s) mod l``
  with ``l = SUBORDER`` (note: ``s``, not ``s >> 3``, since ``8 * A = s * BASE8``);
* verification: ``S * BASE8 == R8 + (8 * hm) * A``.
* :func:`sign_compact` (orders and cancels) picks the first of a fixed sequence of nonces
  whose ``R8x`` is below ``2^252``, so that ``R8y`` alone names ``R8``.

:func:`verify` never raises on bad input; it returns False for anything the circuit
would reject and for a few things it would not (see its docstring).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from prover.crypto import babyjub
from prover.crypto.babyjub import IDENTITY, SUBORDER, Point
from prover.crypto.blake512 import blake512
from prover.crypto.poseidon_hash import poseidon
from prover.errors import FieldError, KeyFileError, SignatureError
from prover.field import SNARK_FIELD

PRIVATE_KEY_BYTES = 32
KEY_FILE_TYPE = "zkmatch-babyjub-eddsa-poseidon"
KEY_FILE_VERSION = 1
_SEED_DOMAIN = b"zkmatch/eddsa-private-key/v1\x00"


# --- key derivation ----------------------------------------------------------------------


def _check_private_key(private_key: object) -> bytes:
    if isinstance(private_key, PrivateKey):
        return private_key.key
    if not isinstance(private_key, bytes | bytearray) or len(private_key) != PRIVATE_KEY_BYTES:
        raise SignatureError(f"a private key is {PRIVATE_KEY_BYTES} bytes")
    return bytes(private_key)


def _prune(buf: bytes) -> int:
    """circomlib's pruneBuffer on the first 32 bytes, read little-endian."""
    s = int.from_bytes(buf[:32], "little")
    s &= ~7  # clear the 3 low bits: a multiple of the cofactor
    s &= ~(1 << 255)
    s |= 1 << 254
    return s


def _expand(private_key: bytes) -> tuple[int, bytes]:
    """(pruned scalar s, the second half of BLAKE-512(key) used to derive nonces)."""
    h = blake512(private_key)
    return _prune(h), h[32:]


def secret_scalar(private_key: bytes | PrivateKey) -> int:
    """The Baby Jubjub scalar of a key: ``prune(BLAKE-512(key)[0:32]) >> 3``.

    This is the scalar of the public key (``public_key = secret_scalar * BASE8``) and
    the one ECDH uses (MACI's ``formatPrivKeyForBabyJub``). It is not reduced mod
    SUBORDER; it lies in ``[2^251, 2^252)``.
    """
    s, _ = _expand(_check_private_key(private_key))
    return s >> 3


@lru_cache(maxsize=1024)
def _public_key(key: bytes) -> Point:
    s, _ = _expand(key)
    return babyjub.mul_base8(s >> 3)


def public_key(private_key: bytes | PrivateKey) -> Point:
    """``secret_scalar(key) * BASE8``: circomlibjs ``prv2pub``, zk-kit ``derivePublicKey``."""
    return _public_key(_check_private_key(private_key))


def generate_private_key() -> bytes:
    """32 bytes from the operating system's CSPRNG."""
    return secrets.token_bytes(PRIVATE_KEY_BYTES)


def derive_private_key(seed: str) -> bytes:
    """A deterministic private key from a name or passphrase (simulations and tests).

    ``BLAKE2b-256("zkmatch/eddsa-private-key/v1" || 0x00 || UTF-8(seed))``. Anyone who
    knows the seed knows the key: never use a guessable seed for real funds.
    """
    if not isinstance(seed, str):
        raise SignatureError(f"seed must be a str, got {type(seed).__name__}")
    return hashlib.blake2b(_SEED_DOMAIN + seed.encode("utf-8"), digest_size=32).digest()


# --- signatures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """An EdDSA-Poseidon signature: the point ``r8`` and the scalar ``s``.

    The constructor does not validate (so a test can build a bad one); :func:`verify`
    does, and :meth:`from_json` rejects structurally malformed input.
    """

    r8: Point
    s: int

    def to_json(self) -> dict[str, Any]:
        """``{"R8": ["x", "y"], "S": "s"}`` with decimal strings, as circomlibjs/snarkjs write."""
        return {"R8": [str(self.r8[0]), str(self.r8[1])], "S": str(self.s)}

    @classmethod
    def from_json(cls, data: object) -> Signature:
        """Parse :meth:`to_json` output (decimal strings or ints).

        Raises :class:`SignatureError` if malformed or a value is not a field element.
        """
        try:
            if not isinstance(data, dict) or set(data) != {"R8", "S"}:
                raise SignatureError("a signature is an object with exactly R8 and S")
            r8 = data["R8"]
            if not isinstance(r8, list | tuple) or len(r8) != 2:
                raise SignatureError("R8 must be a list of two coordinates")
            x, y = (_parse_int(v, "R8") for v in r8)
            s = _parse_int(data["S"], "S")
        except SignatureError:
            raise
        except (TypeError, ValueError) as exc:
            raise SignatureError(f"malformed signature: {exc}") from exc
        return cls((x, y), s)

    def as_circuit_inputs(self) -> dict[str, str]:
        """Inputs of ``EdDSAPoseidonVerifier``: ``R8x``, ``R8y``, ``S`` as decimal strings."""
        return {"R8x": str(self.r8[0]), "R8y": str(self.r8[1]), "S": str(self.s)}

    def pack(self) -> bytes:
        """64 bytes: packed R8 then S little-endian (zk-kit ``packSignature``)."""
        if not 0 <= self.s < SUBORDER:
            raise SignatureError("cannot pack a signature with S >= SUBORDER")
        try:
            return babyjub.pack(self.r8) + self.s.to_bytes(32, "little")
        except ValueError as exc:
            raise SignatureError(f"cannot pack signature: {exc}") from exc

    @classmethod
    def unpack(cls, data: bytes) -> Signature:
        """Inverse of :meth:`pack`; raises SignatureError on a malformed encoding."""
        if not isinstance(data, bytes | bytearray) or len(data) != 64:
            raise SignatureError("a packed signature is 64 bytes")
        try:
            r8 = babyjub.unpack(bytes(data[:32]))
        except ValueError as exc:
            raise SignatureError(f"bad R8 in packed signature: {exc}") from exc
        return cls(r8, int.from_bytes(data[32:], "little"))


def _parse_int(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise SignatureError(f"{what}: expected an integer")
    if isinstance(value, str):
        if not value.isdigit() or not value.isascii():
            raise SignatureError(f"{what}: expected a decimal string, got {value!r}")
        value = int(value)
    if not isinstance(value, int) or not 0 <= value < SNARK_FIELD:
        raise SignatureError(f"{what}: not a field element")
    return value


def _check_message(msg: object) -> int:
    if isinstance(msg, bool) or not isinstance(msg, int) or not 0 <= msg < SNARK_FIELD:
        raise FieldError(f"message must be a field element, got {msg!r}")
    return msg


def sign(private_key: bytes | PrivateKey, msg: int) -> Signature:
    """Sign the field element ``msg`` (deterministic; circomlibjs ``signPoseidon``).

    Raises :class:`FieldError` if ``msg`` is not a canonical field element and
    :class:`SignatureError` if the key is not 32 bytes.
    """
    key = _check_private_key(private_key)
    msg = _check_message(msg)
    s, prefix = _expand(key)
    a = _public_key(key)
    r = int.from_bytes(blake512(prefix + msg.to_bytes(32, "little")), "little") % SUBORDER
    r8 = babyjub.mul_base8(r)
    hm = poseidon([r8[0], r8[1], a[0], a[1], msg])
    return Signature(r8, (r + hm * s) % SUBORDER)


#: A *compact* signature has ``R8x`` below this bound. Of a point's two roots ``x`` and
#: ``p - x`` at most one is below ``2^252`` (since ``p > 2^253``), so ``R8`` travels as
#: ``R8y`` alone and the circuit recovers ``R8x`` without a parity bit (docs/crypto.md).
COMPACT_X_BOUND = 1 << 252


def sign_compact(private_key: bytes | PrivateKey, msg: int) -> Signature:
    """A signature of ``msg`` whose ``R8x`` is below :data:`COMPACT_X_BOUND`.

    The first nonce is :func:`sign`'s (so where its ``R8x`` is small both functions return
    the same signature); otherwise nonce ``j = 1, 2, ...`` is
    ``LE(BLAKE-512(h[32:64] || LE32(M) || LE4(j))) mod l`` until ``R8x`` is small (each try
    succeeds with probability ``2^252 / p``, about 1/3). Deterministic, and never the
    negation of an earlier nonce: two signatures of one message with nonces ``r`` and
    ``-r`` would reveal the key. Any EdDSA-Poseidon verifier accepts the result.
    """
    key = _check_private_key(private_key)
    msg = _check_message(msg)
    s, prefix = _expand(key)
    a = _public_key(key)
    seed = prefix + msg.to_bytes(32, "little")
    attempt = 0
    while True:
        data = seed if attempt == 0 else seed + attempt.to_bytes(4, "little")
        r = int.from_bytes(blake512(data), "little") % SUBORDER
        r8 = babyjub.mul_base8(r)
        if r8[0] < COMPACT_X_BOUND:
            break
        attempt += 1
    hm = poseidon([r8[0], r8[1], a[0], a[1], msg])
    return Signature(r8, (r + hm * s) % SUBORDER)


@lru_cache(maxsize=4096)
def _valid_public_key(point: Point) -> bool:
    return point != IDENTITY and babyjub.in_subgroup(point)


def is_valid_public_key(point: object) -> bool:
    """True iff ``point`` is on the curve, in the prime-order subgroup and not the identity.

    Every public key the protocol accepts must pass this (circomlib's verifier only
    rejects keys with ``8*A`` of x = 0, so it alone does not enforce it).
    """
    if not babyjub.on_curve(point):
        return False
    assert isinstance(point, tuple | list)
    return _valid_public_key((point[0], point[1]))


def verify(public_key: Point, msg: int, sig: Signature) -> bool:
    """Check an EdDSA-Poseidon signature; never raises, returns False when invalid.

    Accepts exactly when ``S * BASE8 == R8 + 8 * hm * A`` with
    ``hm = Poseidon(R8x, R8y, Ax, Ay, msg)`` (circomlib's equation) and, in addition:
    ``msg`` is a field element; ``S < SUBORDER`` (circomlib checks this too);
    ``R8`` is on the curve with canonical coordinates; ``A`` passes
    :func:`is_valid_public_key`. ``R8`` then lies in the subgroup automatically,
    since it equals ``S*BASE8 - 8*hm*A``; together with ``S < SUBORDER`` this leaves
    exactly one valid signature encoding per ``(A, msg, r)``: no malleability.
    """
    try:
        if not isinstance(sig, Signature):
            return False
        if isinstance(msg, bool) or not isinstance(msg, int) or not 0 <= msg < SNARK_FIELD:
            return False
        s = sig.s
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < SUBORDER:
            return False
        if not babyjub.on_curve(sig.r8) or not is_valid_public_key(public_key):
            return False
        r8 = (sig.r8[0], sig.r8[1])
        a = (public_key[0], public_key[1])
        hm = poseidon([r8[0], r8[1], a[0], a[1], msg])
        left = babyjub.mul_base8(s)
        # A is in the prime-order subgroup, so 8*hm may be reduced mod SUBORDER.
        right = babyjub.add(r8, babyjub.mul(a, 8 * hm % SUBORDER))
        return left == right
    except (ValueError, TypeError):  # pragma: no cover - defensive: nothing above should raise
        return False


# --- key objects and key files -------------------------------------------------------------


@dataclass(frozen=True)
class PrivateKey:
    """A 32-byte EdDSA private key with its derived public key.

    ``repr`` hides the secret. Use :meth:`generate`, :meth:`from_seed` or
    :meth:`from_hex` to make one, :func:`save_key_file` / :func:`load_key_file` to
    keep one on disk.
    """

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.key, bytes) or len(self.key) != PRIVATE_KEY_BYTES:
            raise SignatureError(f"a private key is {PRIVATE_KEY_BYTES} bytes")

    def __repr__(self) -> str:
        return f"PrivateKey(public_key={self.public_key!r})"

    @classmethod
    def generate(cls) -> PrivateKey:
        """A fresh random key."""
        return cls(generate_private_key())

    @classmethod
    def from_seed(cls, seed: str) -> PrivateKey:
        """The key :func:`derive_private_key` derives from ``seed``."""
        return cls(derive_private_key(seed))

    @classmethod
    def from_hex(cls, text: str) -> PrivateKey:
        """Parse 64 hex digits (an optional ``0x`` prefix is allowed)."""
        if not isinstance(text, str):
            raise SignatureError("private key hex must be a str")
        digits = text[2:] if text[:2] in ("0x", "0X") else text
        if len(digits) != 2 * PRIVATE_KEY_BYTES:
            raise SignatureError(f"a private key is {2 * PRIVATE_KEY_BYTES} hex digits")
        try:
            return cls(bytes.fromhex(digits))
        except ValueError as exc:
            raise SignatureError(f"private key is not hex: {exc}") from exc

    def hex(self) -> str:
        """The key as 64 lowercase hex digits (no prefix)."""
        return self.key.hex()

    @property
    def public_key(self) -> Point:
        """``secret_scalar * BASE8``."""
        return _public_key(self.key)

    @property
    def scalar(self) -> int:
        """:func:`secret_scalar` of this key (for ECDH)."""
        return secret_scalar(self.key)

    def sign(self, msg: int) -> Signature:
        """:func:`sign` with this key."""
        return sign(self.key, msg)

    def to_json(self) -> dict[str, Any]:
        """The key-file object: type, version, hex private key, public key (for checking)."""
        return {
            "type": KEY_FILE_TYPE,
            "version": KEY_FILE_VERSION,
            "private_key": self.hex(),
            "public_key": [str(self.public_key[0]), str(self.public_key[1])],
        }

    @classmethod
    def from_json(cls, data: object) -> PrivateKey:
        """Parse :meth:`to_json` output; raises KeyFileError if malformed or inconsistent."""
        if not isinstance(data, dict):
            raise KeyFileError("key file must hold a JSON object")
        if data.get("type") != KEY_FILE_TYPE or data.get("version") != KEY_FILE_VERSION:
            raise KeyFileError(
                f"not a zkmatch key file (want type {KEY_FILE_TYPE!r}, version {KEY_FILE_VERSION})"
            )
        text = data.get("private_key")
        if not isinstance(text, str):
            raise KeyFileError("key file has no private_key string")
        try:
            key = cls.from_hex(text)
        except SignatureError as exc:
            raise KeyFileError(f"key file private_key: {exc}") from exc
        if "public_key" in data:
            want = data["public_key"]
            if want != [str(key.public_key[0]), str(key.public_key[1])]:
                raise KeyFileError("key file public_key does not match its private_key")
        return key


#: Alias: a private key object carries its public key.
KeyPair = PrivateKey


def save_key_file(
    path: str | os.PathLike[str], key: PrivateKey, *, overwrite: bool = False
) -> Path:
    """Write ``key`` as JSON readable by its owner only (mode 0600), atomically.

    Raises :class:`KeyFileError` if the file exists and ``overwrite`` is False, or on
    an OS error.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise KeyFileError(f"{target} exists; refusing to overwrite a key")
    text = json.dumps(key.to_json(), indent=2) + "\n"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".key-", dir=target.parent)  # created 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise KeyFileError(f"cannot write key file {target}: {exc}") from exc
    return target


def load_key_file(path: str | os.PathLike[str], *, check_permissions: bool = True) -> PrivateKey:
    """Read a key file written by :func:`save_key_file`.

    Raises :class:`KeyFileError` if it is missing, unreadable, not valid JSON, malformed,
    inconsistent, or (with ``check_permissions``, on POSIX) readable by group or others.
    """
    target = Path(path)
    try:
        st = target.stat()
        if check_permissions and os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(
                f"{target} is accessible by other users (mode {stat.S_IMODE(st.st_mode):04o}); "
                f"run: chmod 600 {target}"
            )
        text = target.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {target}: {exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise KeyFileError(f"{target} is not valid JSON: {exc}") from exc
    return PrivateKey.from_json(data)
