"""PubKeyCheck: a key entering the state is on Baby Jubjub, in the prime-order subgroup
and not the identity (docs/protocol.md, section 4).

Bad keys come from the curve's own structure: the points of small order (the torsion of
order 2, 4 and 8) and subgroup keys plus a small-order point, which are on the curve but
outside the subgroup; circomlib's EdDSA verifier would accept a key of the last kind (it
only refuses small-order keys). Each is rejected with the hint the circuit computes, and
with every other hint a prover could try for it (Q + T for each of the 8 torsion points T,
so no choice of Q helps). ``--O0`` build for the rule names.
"""

from __future__ import annotations

import pytest

from prover.crypto import babyjub
from prover.crypto.eddsa import PrivateKey
from prover.field import SNARK_FIELD
from tests.circuits import mutants
from tests.circuits.harness import Circuit, compile_main, expect_count

P = SNARK_FIELD
INV8 = pow(8, -1, babyjub.SUBORDER)
KEY = PrivateKey.from_seed("pubkey-check").public_key


@pytest.fixture(scope="module")
def check() -> Circuit:
    return compile_main("lib/PubKeyCheck.circom", "PubKeyCheck()")


@pytest.fixture(scope="module")
def check0() -> Circuit:
    return compile_main("lib/PubKeyCheck.circom", "PubKeyCheck()", optimize=0)


def _torsion() -> list[babyjub.Point]:
    """The 8 points of order dividing 8: (l * G) for G of full order, and its multiples."""
    t = babyjub.mul(babyjub.GENERATOR, babyjub.SUBORDER)
    points = [babyjub.IDENTITY]
    for _ in range(7):
        points.append(babyjub.add(points[-1], t))
    assert len(set(points)) == 8 and babyjub.mul(t, 8) == babyjub.IDENTITY
    return points


TORSION = _torsion()
ORDER_2 = (0, P - 1)


def _inputs(point, enabled: int = 1) -> dict:
    return {"enabled": enabled, "x": point[0], "y": point[1]}


def test_constraint_count(check):
    expect_count(check, 25)  # documented in the template's /// block


@pytest.mark.parametrize("seed", ["a", "b", "c"])
def test_subgroup_keys_are_accepted(check, seed):
    key = PrivateKey.from_seed(f"pubkey-check-{seed}").public_key
    assert babyjub.in_subgroup(key)
    w = check.witness(_inputs(key))
    assert w.ok, w.failing()
    assert babyjub.mul((w["qx"], w["qy"]), 8) == key


BAD = {
    "identity": babyjub.IDENTITY,
    "order 2": ORDER_2,
    "order 4": TORSION[2],
    "order 8": TORSION[1],
    "key + order 8": babyjub.add(KEY, TORSION[1]),
    "key + order 2": babyjub.add(KEY, ORDER_2),
    "full-order generator": babyjub.GENERATOR,
}


@pytest.mark.parametrize("name", list(BAD))
def test_points_outside_the_subgroup_or_the_identity_are_rejected(check0, name):
    point = BAD[name]
    assert babyjub.on_curve(point)
    w = check0.witness(_inputs(point))
    if name == "identity":
        # 8 * identity is the identity: only "not the identity" (x != 0) objects.
        w.assert_rejected_only_by("xInverse")
    elif name == "order 2":
        # (0, -1): x = 0 too, and outside the subgroup.
        w.assert_rejected_only_by("xInverse", "dbl[2]")
    else:
        # The circuit's hint Q = 8^-1 * P is on the curve; 8Q is in the subgroup, so not P.
        w.assert_rejected_only_by("dbl[2]")


@pytest.fixture(scope="module")
def free_hint() -> Circuit:
    """A test build in which the hint Q is an input: every signal is then computed from the
    prover's choice of Q, as a cheating prover would choose it."""
    file = "lib/PubKeyCheck.circom"
    cuts = [
        mutants.replace(file, f"    q{c} <-- enabled == 1 ? q[{i}] : {i};\n",
                        f"    signal input h{c};\n    q{c} <== h{c};\n")
        for i, c in enumerate("xy")
    ]
    return compile_main(file, "PubKeyCheck()", optimize=0, sources=mutants.apply(*cuts))


def test_honest_hint_and_its_torsion_twins_are_accepted(free_hint):
    """The 8 points Q + T (T of order dividing 8) all have 8(Q + T) = 8Q: harmless."""
    q = babyjub.mul(KEY, INV8)
    for t in TORSION:
        hint = babyjub.add(q, t)
        assert free_hint.witness({**_inputs(KEY), "hx": hint[0], "hy": hint[1]}).ok


@pytest.mark.parametrize("name", list(BAD))
def test_no_hint_helps(free_hint, name):
    """For each bad key, every Q a prover could try: 8^-1 * P plus each torsion point (the
    only candidates: 8Q = P has no other solutions on the curve), P itself, and an
    off-curve point. Every one is rejected."""
    point = BAD[name]
    q = babyjub.mul(point, INV8)
    hints = [babyjub.add(q, t) for t in TORSION] + [point, (1, 1)]
    for hint in hints:
        w = free_hint.witness({**_inputs(point), "hx": hint[0], "hy": hint[1]})
        assert not w.ok, (name, hint)


@pytest.mark.parametrize(("coordinate", "rule"), [(0, "dbl[2].xout"), (1, "dbl[2].yout")])
def test_each_coordinate_is_bound(free_hint, coordinate, rule):
    """A key off by one in one coordinate, with the hint of the real key (so 8Q is the
    real key): only the equality of that coordinate refuses it. (Nothing else checks that
    the key is on the curve: 8Q = key does.)"""
    q = babyjub.mul(KEY, INV8)
    bad = list(KEY)
    bad[coordinate] = (bad[coordinate] + 1) % P
    assert not babyjub.on_curve(tuple(bad))
    w = free_hint.witness({**_inputs(bad), "hx": q[0], "hy": q[1]})
    w.assert_rejected_only_by(rule)


def test_off_curve_points_are_rejected(check0):
    for point in ((KEY[0], (KEY[1] + 1) % P), (1, 1), (0, 0)):
        assert not babyjub.on_curve(point)
        assert not check0.witness(_inputs(point)).ok


def test_disabled_checks_nothing(check):
    for point in (KEY, babyjub.IDENTITY, (0, 0), (1, 1), ORDER_2):
        w = check.witness(_inputs(point, enabled=0))
        assert w.ok, point


def test_the_hint_is_pinned(check0):
    """Q must be an on-curve point with 8Q = key: another point, or Q off the curve, is
    rejected (an off-curve Q fails Check (1) even where the doublings would line up)."""
    w = check0.witness(_inputs(KEY))
    assert w.ok
    assert not w.tamper({"qx": w["qx"] + 1}).ok
    assert not w.tamper({"qy": w["qy"] + 1}).ok
    assert not w.tamper({"xInverse": w["xInverse"] + 1}).ok
