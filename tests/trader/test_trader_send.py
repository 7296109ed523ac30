"""Building, checking, signing and encrypting orders and cancels (pure; no chain).

Every order that can never be a valid inbox entry is refused with its own message; what is
built decrypts, under the operator's key, to exactly the signed order or cancel."""

from __future__ import annotations

import pytest

from prover.crypto.eddsa import PrivateKey
from prover.exchange.constants import SIDE_BUY, SIDE_SELL, TIF_GTC, TIF_IOC, TIF_POST_ONLY
from prover.exchange.domain import Cancel, Market, Order, SignedCancel, SignedOrder
from prover.exchange.inbox import Message, decode
from prover.trader.keys import TraderKey
from prover.trader.send import (
    TraderError,
    Venue,
    build_cancel,
    build_order,
    default_cancel_id,
    message_file_json,
    parse_expiry,
    parse_side,
    parse_tif,
    seal,
)

OPERATOR = PrivateKey.from_seed("test-operator")
KEY = TraderKey.from_seed("alice")
MARKETS = (Market(0, 10_000, 1000, 500, 200, 500), Market(1, 1000, 2000, 1000, 0, 1000))
VENUE = Venue(MARKETS, OPERATOR.public_key, last_timestamp=1_700_000_000, rollup="0xR",
              chain_id=31337, account_bits=4, slot_bits=2, account_keys={2: KEY.public_key})
GOOD = dict(account=2, market=0, side=SIDE_SELL, price=31_000_000, size=3, order_id=7,
            expiry=1_800_000_000, tif=TIF_GTC)


def test_a_good_order_and_its_default_fee_cap() -> None:
    order = build_order(VENUE, **GOOD, key=KEY)
    assert order == Order(2, 0, SIDE_SELL, 31_000_000, 3, 7, 1_800_000_000, 500, TIF_GTC)
    assert build_order(VENUE, **{**GOOD, "market": 1, "price": 2000}).max_fee_ppm == 1000
    assert build_order(VENUE, **GOOD, max_fee_ppm=10**6).max_fee_ppm == 10**6


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"size": -1}, "size must be at least 1"),
        ({"size": 0}, "size must be at least 1"),
        ({"size": 1 << 32}, "size must be at least 1 and below 2\\^32"),
        ({"price": 0}, "price must be at least 1"),
        ({"price": -10_000}, "price must be at least 1"),
        ({"price": 31_000_005}, "off the tick.*steps of 10000.*31000000 or 31010000"),
        ({"price": 1 << 40}, "price must be at least 1 and below 2\\^40"),
        ({"market": 2}, "unknown market 2: the Rollup registers 2 markets"),
        ({"market": -1}, "unknown market -1"),
        ({"side": 2}, "side 2 is not buy"),
        ({"tif": 3}, "time in force 3"),
        ({"order_id": 0}, "order id must be at least 1"),
        ({"order_id": 1 << 64}, "order id must be at least 1 and below 2\\^64"),
        ({"account": 16}, "account 16 does not exist.*2\\^4"),
        ({"account": -1}, "account must be at least 0"),
        ({"account": 1}, "insurance fund"),
        ({"expiry": 1_700_000_000}, "not after the last batch's time"),
        ({"expiry": 1 << 40}, "expiry must be at least 0 and below 2\\^40"),
        ({"max_fee_ppm": 499}, "FEE_TOO_HIGH.*caps fees at 499"),
        ({"max_fee_ppm": 10**6 + 1}, "max fee must be at least 0 and below 1000001"),
        ({"max_fee_ppm": -1}, "max fee must be at least 0"),
    ],
)
def test_bad_orders_are_refused_with_their_reason(change: dict[str, int], message: str) -> None:
    with pytest.raises(TraderError, match=message):
        build_order(VENUE, **{**GOOD, **change}, key=KEY)


def test_fee_cap_follows_the_time_in_force() -> None:
    # post-only pays at most the maker fee, IOC at most the taker fee
    assert build_order(VENUE, **{**GOOD, "tif": TIF_POST_ONLY}, max_fee_ppm=200)
    with pytest.raises(TraderError, match="FEE_TOO_HIGH"):
        build_order(VENUE, **{**GOOD, "tif": TIF_IOC}, max_fee_ppm=200)


def test_an_account_of_another_key_is_refused() -> None:
    with pytest.raises(TraderError, match="belongs to another key"):
        build_order(VENUE, **GOOD, key=TraderKey.from_seed("mallory"))
    # an account the genesis does not know (made later by a deposit) is not refused
    assert build_order(VENUE, **{**GOOD, "account": 5}, key=TraderKey.from_seed("mallory"))


def test_argument_parsing() -> None:
    assert parse_side("BUY") == SIDE_BUY and parse_side("sell") == SIDE_SELL
    assert parse_tif("post-only") == parse_tif("post_only") == TIF_POST_ONLY
    assert parse_tif("ioc") == TIF_IOC
    with pytest.raises(TraderError, match="unknown side 'up'"):
        parse_side("up")
    with pytest.raises(TraderError, match="unknown time in force"):
        parse_tif("fok")
    assert parse_expiry("+60", 1000) == 1060
    assert parse_expiry("1800000000", 1000) == 1_800_000_000
    for bad in ("soon", "-5", "+", "+0", "1.5"):
        with pytest.raises(TraderError, match="expiry"):
            parse_expiry(bad, 1000)


def test_cancels() -> None:
    assert default_cancel_id(7, 2) == 11
    assert build_cancel(VENUE, account=2, order_id=7, key=KEY) == Cancel(2, 11)
    assert build_cancel(VENUE, account=2, order_id=7, slot_bits=4).order_id == 23
    assert build_cancel(VENUE, account=2, order_id=7, cancel_id=15).order_id == 15
    no_shape = Venue(MARKETS, OPERATOR.public_key, 0)
    assert build_cancel(no_shape, account=2, order_id=7, cancel_id=8).order_id == 8
    with pytest.raises(TraderError, match="give --cancel-id, --slot-bits"):
        build_cancel(no_shape, account=2, order_id=7)
    with pytest.raises(TraderError, match="in slot 0.*would not cancel"):
        build_cancel(VENUE, account=2, order_id=7, cancel_id=8)
    with pytest.raises(TraderError, match="not above order id"):
        build_cancel(VENUE, account=2, order_id=7, cancel_id=3)
    with pytest.raises(TraderError, match="order id must be at least 1"):
        build_cancel(VENUE, account=2, order_id=0)
    with pytest.raises(TraderError, match="cancel id must be at least 1 and below 2\\^64"):
        build_cancel(VENUE, account=2, order_id=(1 << 64) - 1)
    with pytest.raises(TraderError, match="slot bits"):
        build_cancel(VENUE, account=2, order_id=7, slot_bits=17)


def test_sealed_messages_decrypt_to_exactly_the_signed_entry() -> None:
    order = build_order(VENUE, **GOOD, key=KEY)
    signed, message = seal(order, KEY, VENUE)
    assert signed == SignedOrder.sign(order, KEY.account_key) and signed.verify(KEY.public_key)
    message.check()
    decoded = decode(message, OPERATOR.scalar)
    assert decoded.authenticated and decoded.entry == signed
    cancel = build_cancel(VENUE, account=2, order_id=7)
    signed_cancel, cancel_message = seal(cancel, KEY, VENUE)
    assert decode(cancel_message, OPERATOR.scalar).entry == signed_cancel
    assert isinstance(signed_cancel, SignedCancel)
    # another operator key cannot open it
    assert not decode(message, PrivateKey.from_seed("someone").scalar).authenticated
    # fresh ephemeral key each time
    assert seal(order, KEY, VENUE)[1] != message


def test_the_message_file_holds_no_plaintext() -> None:
    order = build_order(VENUE, **GOOD)
    _, message = seal(order, KEY, VENUE)
    data = message_file_json(message, VENUE)
    assert Message.from_json(data) == message
    words = set(data["eph"]) | set(data["ciphertext"])
    for value in order.fields():
        assert str(value) not in words


def test_a_bad_operator_key_is_refused() -> None:
    order = build_order(VENUE, **GOOD)
    bad = Venue(MARKETS, (1, 2), 0)
    with pytest.raises(TraderError, match="operator key"):
        seal(order, KEY, bad)
