"""Baby Jubjub: group law, subgroup, packing; cross-checked with circomlibjs and zk-kit."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prover.crypto import babyjub
from prover.crypto.babyjub import BASE8, GENERATOR, IDENTITY, ORDER, SUBORDER
from prover.errors import CurveError, FieldError
from prover.field import SNARK_FIELD as P
from tests.crypto.jsref import dec, reference

# (0, -1) has order 2; together with IDENTITY these are the points with x = 0.
ORDER2 = (0, P - 1)
# An order-4 point: a*x^2 = 1 at y = 0, x = 1/sqrt(a).
_x4 = babyjub.sqrt(pow(babyjub.A, -1, P))
assert _x4 is not None
ORDER4 = (min(_x4, P - _x4), 0)


def test_constants() -> None:
    assert ORDER == 8 * SUBORDER
    assert babyjub.on_curve(GENERATOR) and babyjub.on_curve(BASE8)
    assert babyjub.mul(GENERATOR, 8) == BASE8
    assert babyjub.mul(BASE8, SUBORDER) == IDENTITY
    assert babyjub.mul(GENERATOR, ORDER) == IDENTITY
    assert babyjub.mul(GENERATOR, SUBORDER) != IDENTITY
    assert babyjub.in_subgroup(BASE8) and not babyjub.in_subgroup(GENERATOR)
    assert babyjub.on_curve(ORDER2) and babyjub.on_curve(ORDER4)
    assert babyjub.mul(ORDER4, 4) == IDENTITY and babyjub.mul(ORDER4, 2) == ORDER2


scalars = st.integers(min_value=0, max_value=2**260)


@settings(max_examples=20, deadline=None)
@given(scalars, scalars)
def test_group_law(a: int, b: int) -> None:
    pa, pb = babyjub.mul(BASE8, a), babyjub.mul(BASE8, b)
    assert babyjub.add(pa, pb) == babyjub.mul(BASE8, a + b)
    assert babyjub.mul(pa, b) == babyjub.mul(pb, a)
    assert babyjub.add(pa, babyjub.neg(pa)) == IDENTITY
    assert babyjub.mul(BASE8, -a) == babyjub.neg(pa)
    assert babyjub.mul_base8(a) == pa
    # generic path (no fixed-base table) agrees with the table path
    g = babyjub.mul(GENERATOR, 8 * a)
    assert g == pa
    assert babyjub.unpack(babyjub.pack(pa)) == pa
    assert babyjub.unpack(babyjub.pack_int(pa)) == pa


def test_off_curve_inputs_raise() -> None:
    bad = [(1, 1), (P, 1), (-1, 0), (0, 2), (1.0, 1.0), (1,), "xy", None]
    for pt in bad:
        assert not babyjub.on_curve(pt)
        assert not babyjub.in_subgroup(pt)
        with pytest.raises(CurveError):
            babyjub.mul(pt, 3)  # type: ignore[arg-type]
        with pytest.raises(CurveError):
            babyjub.add(pt, BASE8)  # type: ignore[arg-type]
        with pytest.raises(CurveError):
            babyjub.pack(pt)  # type: ignore[arg-type]
    with pytest.raises(FieldError):
        babyjub.mul(BASE8, 1.5)  # type: ignore[arg-type]
    with pytest.raises(FieldError):
        babyjub.mul(BASE8, True)


def test_small_order_points_are_not_in_subgroup() -> None:
    assert babyjub.in_subgroup(IDENTITY)
    for pt in (ORDER2, ORDER4, babyjub.add(BASE8, ORDER4)):
        assert babyjub.on_curve(pt) and not babyjub.in_subgroup(pt)


def test_unpack_rejects_malformed() -> None:
    y_no_point = next(y for y in range(2, 100) if _no_point(y))
    for data in (
        b"\x00" * 31,
        P.to_bytes(32, "little"),  # y = p is not canonical (circomlibjs lets it through)
        y_no_point.to_bytes(32, "little"),
        (1 | 1 << 255).to_bytes(32, "little"),  # sign bit on x = 0
        1 << 256,
        -1,
        "00",
    ):
        with pytest.raises(CurveError):
            babyjub.unpack(data)  # type: ignore[arg-type]
    assert babyjub.unpack(babyjub.pack(IDENTITY)) == IDENTITY


def _no_point(y: int) -> bool:
    y2 = y * y % P
    return babyjub.sqrt((1 - y2) * pow(babyjub.A - babyjub.D * y2, -1, P)) is None


def test_sqrt() -> None:
    rng = random.Random(9)
    for _ in range(20):
        x = rng.randrange(P)
        r = babyjub.sqrt(x * x)
        assert r is not None and r * r % P == x * x % P
    assert babyjub.sqrt(5) is None  # 5 generates the multiplicative group


def test_matches_circomlibjs_and_zkkit() -> None:
    rng = random.Random(11)
    points = [babyjub.mul(BASE8, rng.randrange(SUBORDER)) for _ in range(6)]
    points += [babyjub.mul(GENERATOR, rng.randrange(ORDER)), ORDER4, ORDER2, IDENTITY, BASE8]
    scalars_ = [0, 1, 2, SUBORDER - 1, SUBORDER, ORDER - 1, rng.randrange(2**253)]
    req: list[dict] = []
    muls = [(pt, k) for pt in points[:5] for k in (*scalars_, rng.randrange(ORDER))]
    req += [{"op": "bj_mul", "point": dec(pt), "k": str(k)} for pt, k in muls]
    adds = [(points[i], points[j]) for i in range(len(points)) for j in range(i, len(points))]
    req += [{"op": "bj_add", "p": dec(a), "q": dec(b)} for a, b in adds]
    req += [{"op": "bj_check", "point": dec(pt)} for pt in points]
    req += [{"op": "bj_pack", "point": dec(pt)} for pt in points]
    encodings = [babyjub.pack(pt) for pt in points] + [
        (P - 1).to_bytes(32, "little"),
        (3).to_bytes(32, "little"),
        bytes(32),
    ]
    req += [{"op": "bj_unpack", "hex": e.hex()} for e in encodings]
    ans = iter(reference(req))

    for pt, k in muls:
        js = next(ans)
        mine = dec(babyjub.mul(pt, k))
        assert js["circomlibjs"] == mine and js["zkkit"] == mine, (pt, k)
    for a, b in adds:
        assert next(ans) == dec(babyjub.add(a, b))
    for pt in points:
        js = next(ans)
        assert js == {"inCurve": True, "inSubgroup": babyjub.in_subgroup(pt)}
    for pt in points:
        js = next(ans)
        assert js["circomlibjs"] == babyjub.pack(pt).hex()
        assert js["zkkit"] == str(babyjub.pack_int(pt))
    for e in encodings:
        js = next(ans)
        try:
            mine = dec(babyjub.unpack(e))
        except CurveError:
            mine = None
        # zk-kit decodes the x = 0 points; circomlibjs returns null for them.
        assert js["zkkit"] == mine
        if mine is None or mine[0] != "0":
            assert js["circomlibjs"] == mine
        else:
            assert js["circomlibjs"] is None
