"""OneHot and SelectOne."""

from __future__ import annotations

import pytest

from prover.field import SNARK_FIELD
from tests.circuits.harness import compile_main, expect_count

P = SNARK_FIELD


@pytest.fixture(scope="module")
def onehot():
    # index public, so --O2 keeps it on a wire of its own (a private input that is a
    # linear combination of other signals is folded away).
    return compile_main("lib/OneHot.circom", "OneHot(4)", public=("index",))


@pytest.fixture(scope="module")
def select():
    return compile_main("lib/SelectOne.circom", "SelectOne(4)")


def test_constraint_counts(onehot, select):
    expect_count(onehot, 6)
    expect_count(select, 4)


@pytest.mark.parametrize("index", range(4))
def test_onehot_each_index(onehot, index):
    w = onehot.witness({"index": index})
    assert w.ok
    assert [w[f"sel[{i}]"] for i in range(4)] == [int(i == index) for i in range(4)]


@pytest.mark.parametrize("index", [4, 5, P - 1, 2**64])
def test_onehot_out_of_range(onehot, index):
    assert not onehot.accepts({"index": index})


def test_onehot_cannot_select_two_or_move(onehot):
    w = onehot.witness({"index": 2})
    assert not w.tamper({"sel[1]": 1}).ok
    assert not w.tamper({"sel[2]": 0, "sel[1]": 1}).ok  # index still 2
    # a "half" selection: two halves sum to one and weigh to 2 (1*1/2 + 3*1/2 = 2)
    half = pow(2, -1, P)
    assert not w.tamper({"sel[1]": half, "sel[3]": half, "sel[2]": 0}).ok


def test_select_reads_one_value(select):
    w = select.witness({"sel": [0, 0, 1, 0], "values": [10, 20, 30, P - 1]})
    assert w.ok and w["out"] == 30
    assert not w.tamper({"out": 20}).ok
