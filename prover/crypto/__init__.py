"""Cryptography of zkmatch, bit-exact with circomlib and circomlibjs.

- :func:`poseidon` / :func:`poseidon_many`: Poseidon hash (``PoseidonEx(n, 1)``).
- :mod:`prover.crypto.babyjub`: Baby Jubjub curve arithmetic and point packing.
- :mod:`prover.crypto.eddsa`: EdDSA-Poseidon keys, signatures, key files.
- :mod:`prover.crypto.cipher`: ECDH and the Poseidon cipher (MACI / zk-kit format).
- :mod:`prover.crypto.blake512`: BLAKE-512 (the original BLAKE), used for key derivation.

See docs/crypto.md for the API, compatibility notes and measurements.
"""

from prover.crypto.poseidon_hash import (
    MAX_INPUTS,
    poseidon,
    poseidon_many,
    poseidon_permutation,
)

__all__ = ["MAX_INPUTS", "poseidon", "poseidon_many", "poseidon_permutation"]
