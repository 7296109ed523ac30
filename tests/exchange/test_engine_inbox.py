"""The engine on inbox ranges (Engine.submit_inbox): encrypted messages in, one batch out.

Each message of the range is consumed in order: a valid order or cancel enters and an order
matches at its entry; any other message is a no-op with the circuit's reason. The batch
consumes the whole range (its inbox chain runs from the state's to the end of the range).
"""

from __future__ import annotations

import pytest

from prover.exchange import inbox
from prover.exchange.constants import TIF_IOC
from prover.exchange.domain import OrderRef, Reject
from prover.exchange.venue import DEV_OPERATOR
from tests.exchange.trading import BUY, SELL, Trader, config, make_engine

A, B, C = Trader(2), Trader(3), Trader(4)
KEY = DEV_OPERATOR.public_key


def sealed(entries):
    return [inbox.encrypt_entry(e, KEY) for e in entries]


def test_a_range_of_messages_is_one_batch_with_fills():
    eng = make_engine()
    messages = sealed([A.order(SELL, 100, 5, 1), B.order(BUY, 101, 3, 1, tif=TIF_IOC)])
    report, outcomes = eng.submit_inbox(messages)
    assert report is not None and [o.accepted for o in outcomes] == [True, True]
    assert outcomes[0].rested and [f.qty for f in outcomes[1].fills] == [3]
    assert report.result.witness.messages == tuple(messages)
    assert eng.state.inbox_count == 2 and eng.state.inbox_chain == inbox.chain_of(messages)
    # The next range continues the chain.
    more = sealed([C.order(BUY, 100, 2, 1, tif=TIF_IOC)])
    report2, outcomes2 = eng.submit_inbox(more)
    assert report2 is not None and [f.qty for f in outcomes2[0].fills] == [2]
    assert report2.result.witness.inbox_before == inbox.chain_of(messages)
    assert eng.state.inbox_chain == inbox.chain_of(messages + more)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (lambda: inbox.Message(inbox.ephemeral_key()[1], (1, 2, 3, 4)), Reject.MALFORMED),
        (lambda: inbox.encrypt_entry(A.order(SELL, 100, 5, 1), inbox.ephemeral_key()[1]),
         Reject.MALFORMED),  # encrypted to another key: does not authenticate
        (lambda: inbox.encrypt_entry(Trader(9).order(SELL, 100, 5, 1), KEY),
         Reject.UNKNOWN_ACCOUNT),  # no account 9: its empty leaf is opened, left empty
        (lambda: inbox.encrypt_entry(A.order(SELL, 100, 0, 1), KEY), Reject.BAD_SIZE),
        (lambda: inbox.encrypt_entry(A.order(SELL, 100, 5, 1, expiry=1), KEY), Reject.EXPIRED),
    ],
)
def test_invalid_messages_are_no_ops_that_the_batch_still_consumes(message, reason):
    eng = make_engine()
    before = eng.state.root
    msg = message()
    report, outcomes = eng.submit_inbox([msg])
    assert report is not None and not outcomes[0].accepted
    assert [r.reason for r in outcomes[0].rejections] == [reason]
    assert report.result.entries == () and report.result.witness.messages == (msg,)
    assert eng.state.inbox_count == 1
    # Only funding moved nothing: the accounts are as they were (no positions here).
    assert not eng.state.exists(9)
    assert {i: a.collateral for i, a in eng.state.accounts().items()} == {
        0: 0, 1: 0, 2: 10**6, 3: 10**6, 4: 10**6
    }
    assert report.old_root == before


def test_a_later_cancel_keeps_its_maker_out_of_the_batch():
    """A's ask rests; in the next range B's buy comes first and A's cancel of that ask
    second: the circuit opens makers' slots after all messages, so the ask does not make in
    this batch (the operator's plan; docs/inbox.md, "Batch range")."""
    eng = make_engine()
    eng.submit_inbox(sealed([A.order(SELL, 100, 5, 1)]))
    report, outcomes = eng.submit_inbox(sealed([B.order(BUY, 101, 3, 1, tif=TIF_IOC),
                                                A.cancel(1)]))
    assert report is not None and report.fills == ()
    assert outcomes[1].accepted and OrderRef(2, 1) not in eng.resting


def test_the_range_reserves_account_slots_for_its_messages():
    """K = 4: fee, insurance and two more. A range of B's buy then C's order: B's fill
    against A's resting ask would take the last slot C's message needs, so it waits."""
    eng = make_engine(cfg=config(accounts=4, entries=2, fills=2))
    eng.submit_inbox(sealed([A.order(SELL, 100, 5, 1)]))
    report, outcomes = eng.submit_inbox(sealed([B.order(BUY, 101, 3, 1, tif=TIF_IOC),
                                                C.order(SELL, 200, 1, 1)]))
    assert report is not None and report.fills == ()
    assert [o.accepted for o in outcomes] == [True, True]
