"""The verification key as the chain sees it (pure).

:func:`key_words` lists a snarkjs ``verification_key.json`` as the 256-bit words the
exported Solidity verifier embeds, in the EVM's order (G2 coordinates as ``(c1, c0)``):
``alpha.x, alpha.y, beta.x.c1, beta.x.c0, beta.y.c1, beta.y.c0, gamma..., delta...,
IC[0].x, IC[0].y, ...``. :func:`key_hash` is the keccak256 of those words packed, the value
``Rollup.verificationKeyHash`` holds. :func:`missing_from_code` checks that a deployed
verifier's code pushes every one of them as a constant, so a published key file
can be matched against the contract that actually verifies, not only against a stored hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eth_utils import keccak

from prover.errors import ZkmatchError

PUSH1, PUSH32 = 0x60, 0x7F


class KeyMismatch(ZkmatchError):
    """A verification key is not the one the chain uses."""


def _g1(point: Any) -> list[int]:
    return [int(point[0]), int(point[1])]


def _g2(point: Any) -> list[int]:
    return [int(point[0][1]), int(point[0][0]), int(point[1][1]), int(point[1][0])]


def key_words(vk: Mapping[str, Any]) -> list[int]:
    """The key's coordinates in the order the Solidity verifier holds them."""
    try:
        words = _g1(vk["vk_alpha_1"])
        for name in ("vk_beta_2", "vk_gamma_2", "vk_delta_2"):
            words += _g2(vk[name])
        for point in vk["IC"]:
            words += _g1(point)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise KeyMismatch(f"not a snarkjs Groth16 verification key: {exc!r}") from exc
    return words


def key_hash(vk: Mapping[str, Any]) -> bytes:
    """keccak256 of :func:`key_words` as 32-byte big-endian words (``abi.encodePacked``)."""
    return keccak(b"".join(w.to_bytes(32, "big") for w in key_words(vk)))


def push_operands(code: bytes) -> set[int]:
    """The operand of every ``PUSH1``..``PUSH32`` of EVM ``code`` (walking opcodes, so
    immediate data is never read as an opcode)."""
    words: set[int] = set()
    i = 0
    while i < len(code):
        op = code[i]
        if PUSH1 <= op <= PUSH32:
            size = op - PUSH1 + 1
            words.add(int.from_bytes(code[i + 1 : i + 1 + size], "big"))
            i += 1 + size
        else:
            i += 1
    return words


def missing_from_code(vk: Mapping[str, Any], code: bytes) -> list[int]:
    """The key's words that ``code`` does not push (empty: the code embeds this key)."""
    pushed = push_operands(code)
    return [w for w in key_words(vk) if w not in pushed]


__all__ = ["KeyMismatch", "key_hash", "key_words", "missing_from_code", "push_operands"]
