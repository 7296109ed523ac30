"""BookRoot and BookSideSelect (the venue's book sides in the state) against
prover/exchange/booktree.Books, on small sides (4 bits, a cap of 4)."""

from __future__ import annotations

import random

import pytest

from prover.exchange.booktree import Books, book_ref, order_rank, state_root
from prover.exchange.constants import SIDE_BUY, SIDE_SELL
from prover.exchange.domain import make_seq
from prover.field import SNARK_FIELD
from tests.circuits.harness import MUTATION_RUN, compile_main, expect_count

M = 2
BITS = 4
CAP = 1


@pytest.fixture(scope="module")
def root_circuit():
    return compile_main("lib/BookRoot.circom", f"BookRoot({M}, {CAP})")


@pytest.fixture(scope="module")
def select_circuit():
    return compile_main("lib/BookSideSelect.circom", f"BookSideSelect({M}, {CAP})")


@pytest.mark.skipif(MUTATION_RUN, reason="counts are not asserted in mutation runs")
def test_constraint_counts_at_the_production_size():
    expect_count(compile_main("lib/BookRoot.circom", "BookRoot(2, 2)"), 7521)
    expect_count(compile_main("lib/BookSideSelect.circom", "BookSideSelect(2, 2)"), 168)


def _books(seed: int) -> Books:
    rng = random.Random(seed)
    books = Books(M, bits=BITS, cap_levels=CAP)
    for i in range(20):
        side = books.side(rng.randrange(M), rng.choice([SIDE_BUY, SIDE_SELL]))
        if len(side) and rng.random() < 0.3:
            side.pop()
        else:
            rank = order_rank(side.side, rng.randrange(90, 110), make_seq(1, i))
            side.insert(rank, book_ref(2, i))
    return books


def test_root_matches_the_model(root_circuit):
    for seed in range(3):
        books = _books(seed)
        w = root_circuit.witness(books.circuit_inputs())
        assert w.ok, w.failing()
        assert w["root"] == books.root
    empty = Books(M, bits=BITS, cap_levels=CAP)
    assert root_circuit.witness(empty.circuit_inputs())["root"] == empty.root


@pytest.mark.parametrize("market", range(M))
@pytest.mark.parametrize("side", [SIDE_BUY, SIDE_SELL])
def test_select_gives_the_market_sides(select_circuit, market, side):
    books = _books(5)
    w = select_circuit.witness({"market": market, "side": side, **books.circuit_inputs()})
    assert w.ok, w.failing()
    for prefix, which in (("own", side), ("opp", 1 - side)):
        h = books.side(market, which).header()
        assert [w[f"{prefix}Cap[{i}]"] for i in range(len(h.cap))] == list(h.cap)
        assert (w[f"{prefix}HeadPtr"], w[f"{prefix}HeadRank"], w[f"{prefix}FreePtr"]) == (
            h.head_ptr,
            h.head_rank,
            h.free_ptr,
        )
    assert w["ownFrontier"] == books.side(market, side).frontier
    own = [w[f"ownSel[{i}]"] for i in range(2 * M)]
    opp = [w[f"oppSel[{i}]"] for i in range(2 * M)]
    assert own.index(1) == 2 * market + side and sum(own) == 1
    assert opp.index(1) == 2 * market + 1 - side and sum(opp) == 1


# (1/2, 0): 2 * market + side is 1 in the field, a side that exists; only the market's own
# range check refuses it (found by the mutation run).
HALF = (SNARK_FIELD + 1) // 2


@pytest.mark.parametrize(("market", "side"), [(M, 0), (0, 2), (1, -1), (HALF, 0)])
def test_select_refuses_a_side_that_does_not_exist(select_circuit, market, side):
    inputs = {"market": market, "side": side, **_books(6).circuit_inputs()}
    assert not select_circuit.witness(inputs).ok


def test_state_root_binds_both_roots():
    books = _books(7)
    assert state_root(1, books.root) != state_root(2, books.root)
    assert state_root(1, books.root) != state_root(1, Books(M, bits=BITS, cap_levels=CAP).root)
