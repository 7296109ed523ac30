"""The integer pairing of prover/verifier/pairing.py against py_ecc's own, on random points.

py_ecc's ``pairing`` is the reference: the same Fp12 representation, so the values must be
equal, not merely both 1 on balanced products.
"""

from __future__ import annotations

import random

import pytest
from py_ecc.optimized_bn128 import G1, G2, curve_order, field_modulus, multiply, normalize
from py_ecc.optimized_bn128 import pairing as py_ecc_pairing

from prover.verifier import pairing as P


def _g1(k: int) -> tuple[int, int]:
    x, y = normalize(multiply(G1, k))
    return (int(x), int(y))


def _g2(k: int) -> P.G2Affine:
    x, y = normalize(multiply(G2, k))
    return ((int(x.coeffs[0]), int(x.coeffs[1])), (int(y.coeffs[0]), int(y.coeffs[1])))


@pytest.mark.parametrize("seed", [1, 2])
def test_pairing_equals_py_ecc(seed):
    rng = random.Random(seed)
    a, b = rng.randrange(1, curve_order), rng.randrange(1, curve_order)
    ours = P.pairing_check([(_g1(a), P.g2_lines(_g2(b)))])
    assert P.to_fq12(ours) == py_ecc_pairing(multiply(G2, b), multiply(G1, a))


def test_shared_miller_loop_is_the_product_of_pairings():
    rng = random.Random(3)
    a, b, c = (rng.randrange(1, curve_order) for _ in range(3))
    # e(a G1, b G2) * e(c G1, G2) * e(-(ab + c) G1, G2) = 1, and a wrong exponent is not 1.
    pairs = [(_g1(a), P.g2_lines(_g2(b))), (_g1(c), P.g2_lines(_g2(1)))]
    assert P.pairing_check([*pairs, (_g1(-(a * b + c) % curve_order), P.g2_lines(_g2(1)))]) == (
        P.f12_one()
    )
    assert P.pairing_check([*pairs, (_g1(-(a * b + c + 1) % curve_order), P.g2_lines(_g2(1)))]) != (
        P.f12_one()
    )


@pytest.mark.parametrize("k", [1, 2, 3, 6])
def test_frobenius_is_the_p_power(k):
    rng = random.Random(k)
    a = [rng.randrange(field_modulus) for _ in range(12)]
    assert P.to_fq12(P.frobenius(a, k)) == P.to_fq12(a) ** (field_modulus**k)


def test_final_exponentiation_equals_the_plain_power():
    rng = random.Random(7)
    a = [rng.randrange(field_modulus) for _ in range(12)]
    expected = P.to_fq12(a) ** ((field_modulus**12 - 1) // curve_order)
    assert P.to_fq12(P.final_exponentiate(a)) == expected


def test_multiplication_and_inverse_agree_with_py_ecc():
    rng = random.Random(9)
    a = [rng.randrange(field_modulus) for _ in range(12)]
    b = [rng.randrange(field_modulus) for _ in range(12)]
    assert P.to_fq12(P.f12_mul(a, b)) == P.to_fq12(a) * P.to_fq12(b)
    assert P.to_fq12(P.f12_sqr(a)) == P.to_fq12(a) * P.to_fq12(a)
    assert P.f12_mul(a, P.f12_inv(a)) == P.f12_one()
