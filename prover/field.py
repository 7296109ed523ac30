"""The BN254 scalar field, shared by Poseidon, Baby Jubjub and the circuits."""

from __future__ import annotations

from typing import NewType

from prover.errors import FieldError

#: Order of the BN254 (alt_bn128) scalar field: circom's prime.
SNARK_FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617

#: A canonical field element, 0 <= x < SNARK_FIELD.
FieldElement = NewType("FieldElement", int)


def to_field(value: int) -> FieldElement:
    """Check that ``value`` is a canonical field element and return it typed.

    Raises :class:`FieldError` for non-integers, negatives and values >= p: we never
    reduce silently, because a wrapped value is exactly the bug a circuit must not admit.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(f"expected an integer field element, got {type(value).__name__}")
    if not 0 <= value < SNARK_FIELD:
        raise FieldError(f"value {value} is outside the BN254 scalar field [0, p)")
    return FieldElement(value)


def encode_signed(value: int) -> FieldElement:
    """Encode a signed integer as a field element (negative x becomes p + x)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(f"expected an integer, got {type(value).__name__}")
    if not -(SNARK_FIELD // 2) <= value <= SNARK_FIELD // 2:
        raise FieldError(f"signed value {value} does not fit the field")
    return FieldElement(value % SNARK_FIELD)


def decode_signed(element: int) -> int:
    """Inverse of :func:`encode_signed`: elements above p/2 are negative."""
    to_field(element)
    return element - SNARK_FIELD if element > SNARK_FIELD // 2 else element
