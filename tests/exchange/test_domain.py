"""Domain objects: hash layouts (protocol §4-§6), validation, encodings."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prover.crypto import eddsa, poseidon
from prover.errors import ProtocolError
from prover.exchange.constants import (
    TAG_ACCOUNT,
    TAG_CANCEL,
    TAG_MARKET,
    TAG_ORDER,
    TAG_POSITIONS,
    TAG_PRICES,
    TAG_SLOT,
    TIF_GTC,
    TIF_IOC,
    TIF_POST_ONLY,
)
from prover.exchange.domain import (
    EMPTY_SLOT,
    Account,
    BatchConfig,
    BatchFull,
    Cancel,
    Fill,
    Market,
    Order,
    OrderRef,
    OrderRejected,
    OrderSlot,
    Position,
    PriceSet,
    Reject,
    SignedCancel,
    SignedOrder,
    entry_from_json,
    fee_for,
    make_seq,
    parse_int,
    pubkey_of,
)
from prover.field import SNARK_FIELD

P = SNARK_FIELD
MARKET = Market(0, 5, 1000, 500, 200, 500)
MARKETS = (MARKET, Market(1, 1, 2000, 1000, 0, 1000))


def order(**kw: int) -> Order:
    fields = dict(
        account=2,
        market=0,
        side=0,
        price=100,
        size=10,
        order_id=7,
        expiry=10_000,
        max_fee_ppm=500,
        tif=TIF_GTC,
    )
    fields.update(kw)
    return Order(**fields)


# --- hash layouts against hand computation --------------------------------------------


def test_market_hash_layout() -> None:
    assert MARKET.hash() == poseidon([5, 1000, 500, 200, 500], init_state=TAG_MARKET)


def test_order_hash_layout() -> None:
    o = order()
    expected = poseidon([2, 0, 0, 100, 10, 7, 10_000, 500, 0], init_state=TAG_ORDER)
    assert o.hash() == expected
    assert o.hash() == expected  # memoised value is the same


def test_cancel_hash_layout_and_domain_separation() -> None:
    c = Cancel(2, 7)
    assert c.hash() == poseidon([2, 7], init_state=TAG_CANCEL)
    assert c.hash() != poseidon([2, 7], init_state=TAG_ORDER)


def test_slot_hash_layout() -> None:
    assert OrderSlot(7, 123, 4, 99).hash() == poseidon([7, 123, 4, 99], init_state=TAG_SLOT)
    assert EMPTY_SLOT.hash() == poseidon([0, 0, 0, 0], init_state=TAG_SLOT)


def test_account_hash_layout_with_signed_values() -> None:
    acct = Account((11, 22), 3, -5, (Position(-4, 9), Position(6, -2)))
    positions = poseidon([P - 4, 9, 6, P - 2], init_state=TAG_POSITIONS)
    assert acct.positions_hash() == positions
    assert acct.hash(777) == poseidon([11, 22, 3, P - 5, positions, 777], init_state=TAG_ACCOUNT)


def test_prices_hash_layout_and_the_feeds_signature() -> None:
    ps = PriceSet(3, 1_700_000_000, (100, 7), (-5, 12))
    inner_p = poseidon([100, 7], init_state=TAG_PRICES)
    inner_f = poseidon([P - 5, 12], init_state=TAG_PRICES)
    expected = poseidon([1_700_000_000, inner_p, inner_f], init_state=TAG_PRICES)
    assert ps.prices_hash() == expected
    assert replace(ps, batch_number=4).prices_hash() == expected  # a time, not a batch
    feed, other = eddsa.PrivateKey.from_seed("feed"), eddsa.PrivateKey.from_seed("other")
    signed = ps.signed(feed)
    assert signed.signed_by(feed.public_key) and not signed.signed_by(other.public_key)
    assert not ps.signed_by(feed.public_key)  # unsigned
    assert not replace(signed, marks=(101, 7)).signed_by(feed.public_key)
    assert PriceSet.from_json(signed.to_json()) == signed


# --- markets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        (8, 1, 1000, 500, 0, 0),  # id >= 8
        (0, 0, 1000, 500, 0, 0),  # tick 0
        (0, 2**40, 1000, 500, 0, 0),  # tick too large
        (0, 1, 500, 500, 0, 0),  # mmr == imr
        (0, 1, 10_001, 500, 0, 0),  # imr > 10^4
        (0, 1, 1000, 0, 0, 0),  # mmr == 0
        (0, 1, 1000, 500, 1_000_001, 0),  # maker fee > 10^6
        (0, 1, 1000, 500, 0, -1),  # negative fee
    ],
)
def test_market_validation(args: tuple[int, ...]) -> None:
    with pytest.raises(ProtocolError):
        Market(*args)


def test_market_boundaries_accepted() -> None:
    Market(7, 2**40 - 1, 10_000, 9_999, 1_000_000, 0)
    Market(0, 1, 2, 1, 0, 1_000_000)


def test_fee_cap_needed_by_tif() -> None:
    m = Market(0, 1, 1000, 500, 200, 700)
    assert m.fee_cap_needed(TIF_POST_ONLY) == 200
    assert m.fee_cap_needed(TIF_IOC) == 700
    assert m.fee_cap_needed(TIF_GTC) == 700


# --- orders -------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [-1, P, True, "3", 1.5])
def test_order_fields_must_be_field_elements(bad: object) -> None:
    with pytest.raises(OrderRejected) as info:
        order(price=bad)  # type: ignore[arg-type]
    assert info.value.reason is Reject.MALFORMED
    assert isinstance(info.value, ProtocolError)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("side", 2, Reject.MALFORMED),
        ("tif", 3, Reject.MALFORMED),
        ("market", 8, Reject.UNKNOWN_MARKET),
        ("account", 2**32, Reject.UNKNOWN_ACCOUNT),
        ("order_id", 0, Reject.MALFORMED),
        ("order_id", 2**64, Reject.MALFORMED),
        ("expiry", 2**40, Reject.MALFORMED),
        ("max_fee_ppm", 1_000_001, Reject.MALFORMED),
        ("price", 0, Reject.BAD_PRICE),
        ("price", 2**40, Reject.BAD_PRICE),
        ("size", 0, Reject.BAD_SIZE),
        ("size", 2**32, Reject.BAD_SIZE),
    ],
)
def test_order_ranges(field: str, value: int, reason: Reject) -> None:
    with pytest.raises(OrderRejected) as info:
        order(**{field: value}).check()
    assert info.value.reason is reason


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", 1),
        ("price", 2**40 - 1),
        ("size", 1),
        ("size", 2**32 - 1),
        ("order_id", 1),
        ("order_id", 2**64 - 1),
        ("expiry", 2**40 - 1),
        ("max_fee_ppm", 1_000_000),
        ("side", 1),
        ("tif", TIF_POST_ONLY),
    ],
)
def test_order_range_boundaries_accepted(field: str, value: int) -> None:
    order(**{field: value}).check()


def test_order_check_market() -> None:
    assert order(price=100).check_market(MARKETS) is MARKET
    with pytest.raises(OrderRejected) as info:
        order(price=101).check_market(MARKETS)
    assert info.value.reason is Reject.OFF_TICK
    with pytest.raises(OrderRejected) as info:
        order(market=2).check_market(MARKETS)
    assert info.value.reason is Reject.UNKNOWN_MARKET
    # GTC needs max(maker, taker) = 500; post-only only the maker rate 200; IOC the taker 500.
    with pytest.raises(OrderRejected) as info:
        order(max_fee_ppm=499).check_market(MARKETS)
    assert info.value.reason is Reject.FEE_TOO_HIGH
    order(max_fee_ppm=200, tif=TIF_POST_ONLY).check_market(MARKETS)
    with pytest.raises(OrderRejected):
        order(max_fee_ppm=199, tif=TIF_POST_ONLY).check_market(MARKETS)
    with pytest.raises(OrderRejected):
        order(max_fee_ppm=499, tif=TIF_IOC).check_market(MARKETS)


def test_order_slot_and_refs() -> None:
    o = order(order_id=0b1011)
    assert o.slot(2) == 0b11
    assert o.slot(4) == 0b1011
    assert o.ref == OrderRef(2, 0b1011)
    assert Cancel.for_order(2, 0b1011, 2) == Cancel(2, 0b1011 + 4)
    assert Cancel.for_order(2, 0b1011, 2).slot(2) == o.slot(2)


def test_cancel_check() -> None:
    Cancel(2, 1).check()
    with pytest.raises(OrderRejected) as info:
        Cancel(2, 0).check()
    assert info.value.reason is Reject.MALFORMED
    with pytest.raises(OrderRejected):
        Cancel(-1, 1)


# --- signatures ---------------------------------------------------------------------


def test_signed_order_and_cancel_verify_and_round_trip() -> None:
    key = eddsa.PrivateKey.from_seed("domain-test")
    other = eddsa.PrivateKey.from_seed("domain-other")
    so = SignedOrder.sign(order(), key)
    assert so.verify(key.public_key)
    assert not so.verify(other.public_key)
    assert not SignedOrder(order(price=105), so.signature).verify(key.public_key)
    assert SignedOrder.from_json(so.to_json()) == so
    assert entry_from_json(so.to_json()) == so
    sc = SignedCancel.sign(Cancel(2, 9), key.key)
    assert sc.verify(key.public_key)
    assert not SignedCancel(Cancel(2, 10), sc.signature).verify(key.public_key)
    assert SignedCancel.from_json(sc.to_json()) == sc
    assert entry_from_json(sc.to_json()) == sc
    # A cancel signature is not an order signature (different tags).
    assert not SignedOrder(order(), sc.signature).verify(key.public_key)


def test_malformed_signature_json() -> None:
    with pytest.raises(ProtocolError):
        SignedOrder.from_json({"order": order().to_json(), "signature": {"R8": [1]}})
    with pytest.raises(ProtocolError):
        SignedOrder.from_json({"order": order().to_json()})


# --- positions, accounts, slots -----------------------------------------------------


def test_position_and_collateral_ranges() -> None:
    Position(2**40 - 1, 2**63 - 1)
    Position(-(2**40) + 1, -(2**63) + 1)
    with pytest.raises(ProtocolError):
        Position(2**40)
    with pytest.raises(ProtocolError):
        Position(0, -(2**63))
    Account((1, 2), 0, 2**63 - 1, (Position(),))
    with pytest.raises(ProtocolError):
        Account((1, 2), 0, -(2**63), (Position(),))
    with pytest.raises(ProtocolError):
        Account((1, 2), 0, 0, ())
    with pytest.raises(ProtocolError):
        Account((1, 2), 0, 0, tuple(Position() for _ in range(9)))
    with pytest.raises(ProtocolError):
        Account((P, 2), 0, 0, (Position(),))


def test_zero_account() -> None:
    z = Account.zero(3)
    assert z.pubkey == (0, 0) and z.nonce == 0 and z.collateral == 0
    assert z.positions == (Position(), Position(), Position())


def test_slot_ranges() -> None:
    OrderSlot(2**64 - 1, P - 1, 2**32 - 1, 2**56 - 1)
    for args in ((2**64, 0, 0, 0), (0, P, 0, 0), (0, 0, 2**32, 0), (0, 0, 0, 2**56), (-1, 0, 0, 0)):
        with pytest.raises(ProtocolError):
            OrderSlot(*args)
    assert not EMPTY_SLOT.is_open and OrderSlot(1, 5, 0, 0).is_open


def test_pubkey_normalisation() -> None:
    key = eddsa.PrivateKey.from_seed("pk")
    assert pubkey_of(key) == key.public_key
    assert pubkey_of([str(key.public_key[0]), str(key.public_key[1])]) == key.public_key
    with pytest.raises(ProtocolError):
        pubkey_of((1, 2, 3))


# --- batch config, prices, helpers --------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        (3, 2, 1, 4, 4, 4),  # odd D
        (34, 2, 1, 4, 4, 4),  # D > 32
        (0, 2, 1, 4, 4, 4),
        (4, 18, 1, 4, 4, 4),  # S > 16
        (4, 1, 1, 4, 4, 4),
        (4, 2, 0, 4, 4, 4),  # M = 0
        (4, 2, 9, 4, 4, 4),  # M > 8
        (4, 2, 1, 1, 4, 4),  # K < 2
        (2, 2, 1, 5, 4, 4),  # K > 2^D
        (4, 2, 1, 4, 0, 4),  # E = 0
        (4, 2, 1, 4, 2**16 + 1, 4),  # E > 2^16
        (4, 2, 1, 4, 4, 0),  # B = 0
    ],
)
def test_batch_config_validation(args: tuple[int, ...]) -> None:
    with pytest.raises(ProtocolError):
        BatchConfig(*args)


def test_batch_config_boundaries_and_params() -> None:
    cfg = BatchConfig(2, 2, 1, 4, 2**16, 1)
    assert cfg.as_circuit_params() == {"D": 2, "S": 2, "M": 1, "K": 4, "E": 65536, "B": 1}
    assert BatchConfig.from_json(cfg.to_json()) == cfg
    BatchConfig(32, 16, 8, 2, 1, 1)


def test_price_set_validation() -> None:
    PriceSet(0, 0, (1,), (0,))
    PriceSet(2**40 - 1, 2**40 - 1, (2**40 - 1,), (2**63 - 1,))
    for args in (
        (-1, 0, (1,), (0,)),
        (2**40, 0, (1,), (0,)),
        (0, 2**40, (1,), (0,)),
        (0, 0, (0,), (0,)),
        (0, 0, (2**40,), (0,)),
        (0, 0, (1,), (2**63,)),
        (0, 0, (1, 1), (0,)),
        (0, 0, (), ()),
    ):
        with pytest.raises(ProtocolError):
            PriceSet(*args)


def test_make_seq_and_fee() -> None:
    assert make_seq(3, 5) == 3 * 65536 + 5
    with pytest.raises(ProtocolError):
        make_seq(0, 65536)
    assert fee_for(1_999_999, 1) == 1
    assert fee_for(999_999, 1) == 0
    assert fee_for(10**6, 500) == 500


def test_parse_int() -> None:
    assert parse_int("-12") == -12 and parse_int(7) == 7
    for bad in ("1.5", "", "0x10", True, None, "١٢"):
        with pytest.raises(ProtocolError):
            parse_int(bad)


def test_errors() -> None:
    exc = OrderRejected(Reject.EXPIRED, "late", order=OrderRef(2, 3))
    assert isinstance(exc, ProtocolError) and exc.reason == "EXPIRED"
    assert "EXPIRED" in str(exc) and exc.order == OrderRef(2, 3)
    assert issubclass(BatchFull, ProtocolError)
    assert Reject("SELF_TRADE") is Reject.SELF_TRADE


# --- JSON round trips ---------------------------------------------------------------


def test_json_round_trips() -> None:
    acct = Account((11, 22), 3, -5, (Position(-4, 9), Position(6, -2)))
    assert Account.from_json(acct.to_json()) == acct
    assert Market.from_json(MARKET.to_json()) == MARKET
    slot = OrderSlot(7, 123, 4, 99)
    assert OrderSlot.from_json(slot.to_json()) == slot
    ps = PriceSet(3, 4, (100, 7), (-5, 12))
    assert PriceSet.from_json(ps.to_json()) == ps
    fill = Fill(0, OrderRef(2, 1), OrderRef(3, 4), 1, 100, 5, 1, 0)
    assert Fill.from_json(fill.to_json()) == fill
    assert fill.buyer == OrderRef(3, 4) and fill.seller == OrderRef(2, 1)
    assert Cancel.from_json(Cancel(1, 2).to_json()) == Cancel(1, 2)


_ORDERS = st.builds(
    Order,
    st.integers(0, 2**32 - 1),
    st.integers(0, 7),
    st.integers(0, 1),
    st.integers(1, 2**40 - 1),
    st.integers(1, 2**32 - 1),
    st.integers(1, 2**64 - 1),
    st.integers(0, 2**40 - 1),
    st.integers(0, 10**6),
    st.integers(0, 2),
)


@settings(max_examples=40, deadline=None)
@given(_ORDERS)
def test_order_json_round_trip(o: Order) -> None:
    o.check()
    assert Order.from_json(o.to_json()) == o
    assert Order.from_json(o.to_json()).hash() == o.hash()


def test_a_book_config_survives_json_and_names_its_circuit():
    from prover.exchange.domain import BatchConfig

    cfg = BatchConfig(4, 2, 2, 5, 1, 2, book_bits=4, book_cap_levels=1)
    assert BatchConfig.from_json(cfg.to_json()) == cfg and cfg.book and cfg.steps == 2
    assert cfg.as_circuit_params() == {
        "K": 5, "E": 1, "F": 2, "D": 4, "S": 2, "M": 2, "BB": 4, "CL": 1, "P": 1,
    }
    two = BatchConfig(4, 2, 2, 5, 1, 2, book_bits=4, book_cap_levels=1, deposits=2)
    assert BatchConfig.from_json(two.to_json()) == two and two.to_json()["deposits"] == "2"
    with pytest.raises(ProtocolError, match="deposit slots"):
        BatchConfig(4, 2, 2, 5, 1, 2, book_bits=4, book_cap_levels=1, deposits=0)
    assert cfg.range_limit == 1
    legacy = BatchConfig(4, 2, 2, 4, 2, 2)
    assert "book_bits" not in legacy.to_json() and legacy.range_limit == 2
    with pytest.raises(ProtocolError, match="K >= F"):
        BatchConfig(4, 2, 2, 4, 1, 2, book_bits=4).check_live()
    with pytest.raises(ProtocolError, match="book_cap_levels"):
        BatchConfig(4, 2, 2, 5, 1, 2, book_bits=4, book_cap_levels=2)
