"""Groth16 verification over BN254 in Python (py_ecc), independent of snarkjs and node.

Reads snarkjs's ``verification_key.json`` and ``proof.json`` formats and checks

    e(A, B) = e(alpha, beta) * e(vk_x, gamma) * e(C, delta),
    vk_x = IC[0] + sum_i s_i * IC[i + 1],

as one product of Miller loops, ``ML(-A, B) * ML(vk_x, gamma) * ML(C, delta)`` sharing one
loop, raised by a single final exponentiation and compared with ``e(alpha, beta)^-1``, which
is computed once per key, as are the Miller-loop lines of ``gamma`` and ``delta``
(:class:`VerificationKey` keeps them). The pairing is :mod:`prover.verifier.pairing` (plain
integers, about 15 times faster than py_ecc's own and checked against it); py_ecc does the
curve arithmetic and the point checks. Everything read from outside is validated
first, each failure a :class:`VerifierError` naming what is wrong: JSON shape, coordinates
not below the base field, points off the curve, G2 points outside the prime-order subgroup
(G1 of BN254 has cofactor 1), points at infinity where a proof cannot have them, public
inputs not below the scalar field or of the wrong count. A proof that is well formed but
false verifies as ``False``; nothing here raises anything else.

Encodings (snarkjs): a G1 point is ``[x, y, "1"]``; a G2 point ``[[x.c0, x.c1], [y.c0,
y.c1], ["1", "0"]]`` (each Fp2 element as ``c0 + c1 * u``, which is py_ecc's coefficient
order); numbers are decimal strings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from py_ecc.fields import optimized_bn128_FQ as FQ
from py_ecc.fields import optimized_bn128_FQ2 as FQ2
from py_ecc.optimized_bn128 import (
    add,
    b,
    b2,
    curve_order,
    field_modulus,
    is_inf,
    is_on_curve,
    multiply,
    neg,
    normalize,
)

from prover.errors import ZkmatchError
from prover.verifier import pairing

G1Point = tuple[FQ, FQ, FQ]
G2Point = tuple[FQ2, FQ2, FQ2]


class VerifierError(ZkmatchError, ValueError):
    """A verification key, proof or public input is malformed (not merely false)."""


def _int(value: Any, what: str, modulus: int) -> int:
    if isinstance(value, bool):
        raise VerifierError(f"{what}: expected a decimal number, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.isascii() and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise VerifierError(f"{what}: expected a decimal number, got {value!r}")
    if not 0 <= number < modulus:
        raise VerifierError(f"{what}: {number} is not below the field modulus")
    return number


def _list(value: Any, length: int, what: str) -> list[Any]:
    if not isinstance(value, list) or len(value) != length:
        raise VerifierError(f"{what}: expected a list of {length}, got {value!r:.80}")
    return value


def g1_from_json(value: Any, what: str) -> G1Point:
    """A snarkjs G1 point ``[x, y, "1"]``: on the curve, not at infinity."""
    x, y, z = _list(value, 3, what)
    if _int(z, f"{what}.z", field_modulus) != 1:
        raise VerifierError(f"{what}: expected affine coordinates (z = 1)")
    point = (
        FQ(_int(x, f"{what}.x", field_modulus)),
        FQ(_int(y, f"{what}.y", field_modulus)),
        FQ.one(),
    )
    if not is_on_curve(point, b):
        raise VerifierError(f"{what}: the point is not on the curve")
    return point


def g2_from_json(value: Any, what: str) -> G2Point:
    """A snarkjs G2 point: on the twist, in the subgroup of order r, not at infinity."""
    x, y, z = _list(value, 3, what)
    coords = []
    for name, pair in (("x", x), ("y", y), ("z", z)):
        c0, c1 = _list(pair, 2, f"{what}.{name}")
        c = [_int(v, f"{what}.{name}.c{i}", field_modulus) for i, v in enumerate((c0, c1))]
        coords.append(FQ2(c))
    if coords[2] != FQ2.one():
        raise VerifierError(f"{what}: expected affine coordinates (z = 1)")
    point = (coords[0], coords[1], coords[2])
    if not is_on_curve(point, b2):
        raise VerifierError(f"{what}: the point is not on the twist")
    if not is_inf(multiply(point, curve_order)):
        raise VerifierError(f"{what}: the point is not in the prime-order subgroup")
    return point


def _g1_affine(p: G1Point) -> tuple[int, int]:
    x, y = normalize(p)
    return (int(x), int(y))


def _g2_lines(q: G2Point) -> list[pairing.Line]:
    x, y = normalize(q)
    return pairing.g2_lines(
        ((int(x.coeffs[0]), int(x.coeffs[1])), (int(y.coeffs[0]), int(y.coeffs[1])))
    )


@dataclass(frozen=True)
class VerificationKey:
    alpha: G1Point
    beta: G2Point
    gamma: G2Point
    delta: G2Point
    ic: tuple[G1Point, ...]
    inv_alpha_beta: pairing.Fp12 = field(repr=False)
    """``e(alpha, beta)^-1``, computed once."""
    gamma_lines: list[pairing.Line] = field(repr=False)
    delta_lines: list[pairing.Line] = field(repr=False)

    @property
    def n_public(self) -> int:
        return len(self.ic) - 1

    @classmethod
    def from_json(cls, data: Any) -> VerificationKey:
        if not isinstance(data, Mapping):
            raise VerifierError("a verification key is a JSON object")
        if data.get("protocol") != "groth16" or data.get("curve") not in ("bn128", "bn254"):
            raise VerifierError(
                f"not a Groth16 BN254 key (protocol {data.get('protocol')!r}, "
                f"curve {data.get('curve')!r})"
            )
        ic = data.get("IC")
        if not isinstance(ic, list) or not ic:
            raise VerifierError("verification key: IC is missing")
        n_public = data.get("nPublic", len(ic) - 1)
        if n_public != len(ic) - 1:
            raise VerifierError(f"verification key: nPublic {n_public} but {len(ic)} IC points")
        alpha = g1_from_json(data.get("vk_alpha_1"), "vk_alpha_1")
        beta = g2_from_json(data.get("vk_beta_2"), "vk_beta_2")
        gamma = g2_from_json(data.get("vk_gamma_2"), "vk_gamma_2")
        delta = g2_from_json(data.get("vk_delta_2"), "vk_delta_2")
        points = tuple(g1_from_json(p, f"IC[{i}]") for i, p in enumerate(ic))
        alpha_beta = pairing.pairing_check([(_g1_affine(alpha), _g2_lines(beta))])
        return cls(
            alpha,
            beta,
            gamma,
            delta,
            points,
            pairing.f12_inv(alpha_beta),
            _g2_lines(gamma),
            _g2_lines(delta),
        )

    @classmethod
    def load(cls, path: Path) -> VerificationKey:
        return cls.from_json(_read_json(path, "verification key"))


@dataclass(frozen=True)
class Proof:
    a: G1Point
    b: G2Point
    c: G1Point

    @classmethod
    def from_json(cls, data: Any) -> Proof:
        if not isinstance(data, Mapping):
            raise VerifierError("a proof is a JSON object")
        if data.get("protocol", "groth16") != "groth16":
            raise VerifierError(f"not a Groth16 proof (protocol {data.get('protocol')!r})")
        return cls(
            g1_from_json(data.get("pi_a"), "pi_a"),
            g2_from_json(data.get("pi_b"), "pi_b"),
            g1_from_json(data.get("pi_c"), "pi_c"),
        )

    @classmethod
    def load(cls, path: Path) -> Proof:
        return cls.from_json(_read_json(path, "proof"))


def public_inputs(values: Any) -> list[int]:
    """snarkjs's ``public.json`` (a list of decimal strings), each below the scalar field."""
    if not isinstance(values, list):
        raise VerifierError("public inputs are a JSON list")
    return [_int(v, f"public input {i}", curve_order) for i, v in enumerate(values)]


def verify(vk: VerificationKey, proof: Proof, public: Sequence[int]) -> bool:
    """Whether ``proof`` is a valid Groth16 proof of ``public`` under ``vk``."""
    if len(public) != vk.n_public:
        raise VerifierError(f"{len(public)} public inputs for a key that takes {vk.n_public}")
    vk_x = vk.ic[0]
    for i, s in enumerate(public):
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < curve_order:
            raise VerifierError(f"public input {i} is not below the scalar field")
        if s:
            vk_x = add(vk_x, multiply(vk.ic[i + 1], s))
    pairs = [(_g1_affine(neg(proof.a)), _g2_lines(proof.b))]
    if not is_inf(vk_x):
        pairs.append((_g1_affine(vk_x), vk.gamma_lines))
    pairs.append((_g1_affine(proof.c), vk.delta_lines))
    return pairing.pairing_check(pairs) == vk.inv_alpha_beta


def verify_files(vkey: Path, proof: Path, public: Path) -> bool:
    """:func:`verify` on snarkjs's three files."""
    return verify(
        VerificationKey.load(vkey), Proof.load(proof), public_inputs(_read_json(public, "public"))
    )


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        raise VerifierError(f"cannot read the {what} file {path}: {exc.strerror}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise VerifierError(f"the {what} file {path} is not valid JSON: {exc}") from exc


__all__ = [
    "Proof",
    "VerificationKey",
    "VerifierError",
    "public_inputs",
    "verify",
    "verify_files",
]
