"""OrderEntry(S, M): signature, order ranges, order-id rule and slot write (protocol 5, 7.3).

Tamper tests change a field, then *re-sign* the changed order with the trader's key (a
cheating operator cannot, but a trader can sign anything), so the signature is valid and
only the rule under test breaks (and :func:`reroot` re-opens a changed old slot).
``--O0`` build: every violated constraint must be the rule's (``assert_rejected_only_by``).
"""

from __future__ import annotations

import pytest

from prover.crypto.babyjub import SUBORDER
from prover.exchange.domain import Cancel, Order, OrderSlot
from prover.field import SNARK_FIELD
from prover.merkle import compute_root
from tests.circuits.harness import MUTATION_RUN, compile_main, expect_count
from tests.circuits.scenario import SLOT, M, S, entry_inputs, two_trader_batches

# OrderEntry is in no batch since the inbox (MessageEntry took its place, docs/inbox.md):
# its tests run with `-m slow`, and in mutation runs of its template (scripts/mutate.py).
pytestmark = [] if MUTATION_RUN else [pytest.mark.slow]

P = SNARK_FIELD
FIELDS = ("market", "side", "price", "size", "orderId", "expiry", "maxFeePpm", "tif")


@pytest.fixture(scope="module")
def entry():
    return compile_main("lib/OrderEntry.circom", f"OrderEntry({S}, {M})")


@pytest.fixture(scope="module")
def entry0():
    return compile_main("lib/OrderEntry.circom", f"OrderEntry({S}, {M})", optimize=0)


def resign(inputs: dict) -> dict:
    v = {k: int(x) for k, x in inputs.items() if not isinstance(x, list)}
    key = two_trader_batches().keys[v["accountIndex"]]
    if v["isCancel"]:
        msg = Cancel(v["accountIndex"], v["orderId"]).hash()
    else:
        msg = Order(v["accountIndex"], *(v[f] for f in FIELDS)).hash()
    sig = key.sign(msg)
    return dict(inputs, sigR8x=sig.r8[0], sigR8y=sig.r8[1], sigS=sig.s)


def reroot(inputs: dict) -> dict:
    """``ordersRootBefore`` recomputed from the old slot leaf and its siblings (after a
    tamper changed the old slot's fields): the opening stays consistent."""
    leaf = OrderSlot(*(int(inputs[f"oldSlot{n}"]) for n in SLOT)).hash()
    siblings = tuple(tuple(int(v) for v in level) for level in inputs["slotSiblings"])
    root = compute_root(leaf, int(inputs["orderId"]) % (1 << S), siblings)
    return dict(inputs, ordersRootBefore=root)


def test_constraint_counts(entry):
    expect_count(entry, 6651)
    expect_count(compile_main("lib/OnCurveIfEnabled.circom", "OnCurveIfEnabled()"), 4)


@pytest.mark.parametrize(("batch", "e"), [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)])
def test_honest_entries_match_model(entry, batch, e):
    inputs, root_after = entry_inputs(batch, e)
    w = entry.witness(inputs)
    assert w.ok, w.failing()
    assert w["ordersRootAfter"] == root_after


def test_resign_is_a_no_op_on_honest_data(entry0):
    inputs, _ = entry_inputs(0, 1)
    assert entry0.accepts(resign(inputs))


TAMPERS = [
    # name, changes, signal in a violated constraint   (entry 1 of batch 0: IOC buy 30 @ 1010)
    ("off tick", {"price": 1015}, "main.onTick"),  # tick 10: 1015 = 10 * 101.5
    ("price zero", {"price": 0}, "main.priceNonZero"),
    # A tick of 2 (the batch's to give; its markets' are 10 and 5) puts 2^40 on a tick, and
    # 2^40 - 1 passes priceNonZero: only priceRange stands.
    ("price 2^40", {"price": 2**40, "tickSize": [2, 5]}, "main.priceRange"),
    ("size zero", {"size": 0, "filled": 0}, "main.sizeNonZero"),
    ("size 2^32", {"size": 2**32}, "main.sizeRange"),
    ("expired", {"expiry": 999}, "main.notExpired"),  # t = 1000
    # Past the protocol's range (< 2^40) but still after t, so not expired: only its range.
    ("expiry 2^40", {"expiry": 2**40}, "main.expiryRange"),
    # No market M: no tick either, so the price is off "its" tick too.
    ("market M", {"market": M}, ("main.marketSel", "main.onTick")),
    ("side 2", {"side": 2}, "main.side"),
    ("tif 3", {"tif": 3}, "main.tifSel"),
    ("fee cap above 10^6", {"maxFeePpm": 10**6 + 1}, "main.feeCap"),
    ("fee cap below taker fee", {"maxFeePpm": 499}, "main.coversTaker"),  # IOC: taker 500
    # Above the replaced id 6 by less than 2^64 (so idIncreases holds), but 65 bits long.
    ("order id 2^64 + 2", {"orderId": 2**64 + 2, "oldSlotOrderId": 6}, "main.idBits"),
    # filled (the sum of the order's taker fills; entry 1 took 30 of its 30)
    ("filled above size", {"filled": 31}, "main.filledRoom"),
    # 2^32 is also above any size (< 2^32): filledRoom objects as well.
    ("filled 2^32", {"filled": 2**32, "size": 2**32 - 1}, ("main.filledRange", "main.filledRoom")),
    ("filled negative", {"filled": P - 1}, "main.filledRange"),
]


@pytest.mark.parametrize(("name", "changes", "signal"), TAMPERS, ids=[t[0] for t in TAMPERS])
def test_tampered_entry_is_rejected_by_its_rule(entry0, name, changes, signal):
    inputs, _ = entry_inputs(0, 1)
    w = entry0.witness(reroot(resign(dict(inputs, **changes))))
    w.assert_rejected_only_by(*((signal,) if isinstance(signal, str) else signal))


def test_used_two_would_brick_the_slot(entry0):
    """used = 2 (filled 0, so the entry takes nothing) would write 2 * newLeaf - oldLeaf:
    a leaf whose preimage nobody knows, so the slot could never be opened again (an
    operator freezing a trader's slot). Everything else holds (the signature is valid,
    every gated range scales); only the booleanity of used refuses it."""
    inputs, _ = entry_inputs(0, 1)
    w = entry0.witness(dict(inputs, used=2, filled=0))
    w.assert_rejected_only_by("main.used")
    honest = entry0.witness(dict(inputs))
    assert w["ordersRootAfter"] != honest["ordersRootAfter"]


def test_bad_signature_is_rejected(entry0):
    inputs, _ = entry_inputs(0, 1)
    w = entry0.witness(dict(inputs, sigS=int(inputs["sigS"]) + 1))
    w.assert_rejected_only_by("main.sig")


def test_signature_s_plus_subgroup_order_is_rejected(entry0):
    """S + l verifies the same curve equation (l * B8 = 0); the S < l check refuses it."""
    inputs, _ = entry_inputs(0, 1)
    w = entry0.witness(dict(inputs, sigS=int(inputs["sigS"]) + SUBORDER))
    w.assert_rejected_only_by("main.sig.compConstant")


def test_signature_of_another_account_is_rejected(entry0):
    """Trader B's order signed by trader A's key."""
    inputs, _ = entry_inputs(0, 1)
    forged = resign(dict(inputs, accountIndex=2))  # A signs ...
    forged = dict(forged, accountIndex=inputs["accountIndex"])  # ... B's order
    w = entry0.witness(forged)
    w.assert_rejected_only_by("main.sig")


def test_replayed_order_is_rejected(entry0):
    """Re-entering batch 0's signed order in batch 1: its id is not above the slot's."""
    replay, _ = entry_inputs(0, 0)  # A's sell, order id 1, slot 1
    later, _ = entry_inputs(1, 0)  # A's bid, order id 5, slot 1: the slot now holds id 1
    replay = dict(replay)
    for name in (
        "oldSlotOrderId",
        "oldSlotOrderHash",
        "oldSlotFilled",
        "oldSlotSeq",
        "slotSiblings",
        "ordersRootBefore",
        "seq",
        "timestamp",
    ):
        replay[name] = later[name]
    assert int(replay["oldSlotOrderId"]) == int(replay["orderId"]) == 1
    w = entry0.witness(replay)
    w.assert_rejected_only_by("main.idIncreases")


def test_replay_with_a_lie_about_the_slot_is_rejected(entry0):
    """The replay above, with the operator claiming the slot is still empty (old id 0, so
    the id rule holds): the claimed old leaf is not in the account's order root. Only the
    opening (`update.oldRoot === ordersRootBefore`) refuses it."""
    replay, _ = entry_inputs(0, 0)  # A's sell, id 1, slot 1, first entered in batch 0
    later, _ = entry_inputs(1, 0)  # batch 1: A's slot 1 holds id 1 by now
    replay = dict(replay, ordersRootBefore=later["ordersRootBefore"], seq=later["seq"],
                  timestamp=later["timestamp"], slotSiblings=later["slotSiblings"])
    assert int(replay["oldSlotOrderId"]) == 0  # the lie: the slot as it was before batch 0
    w = entry0.witness(replay)
    w.assert_rejected_only_by("main.update.oldRoot")


def test_off_curve_r8_is_rejected(entry0):
    """R8 off the curve: rOnCurve, and the verifier's own equation (an off-curve R8 that
    satisfied it would need a collision of the formulas: rOnCurve is defence in depth)."""
    inputs, _ = entry_inputs(0, 1)
    w = entry0.witness(dict(inputs, sigR8y=(int(inputs["sigR8y"]) + 1) % P))
    w.assert_rejected_only_by("main.rOnCurve", "main.sig")
    assert any(v.involves("main.rOnCurve") for v in w.violations())


def test_padding_entry_changes_nothing(entry):
    inputs, root_after = entry_inputs(1, 1)
    # The opening must stay real (same order id, so same slot); all else zero.
    zeros = {f: 0 for f in FIELDS if f != "orderId"}
    pad = dict(inputs, used=0, isCancel=0, sigR8x=0, sigR8y=0, sigS=0, filled=0, **zeros)
    w = entry.witness(pad)
    assert w.ok
    assert w["ordersRootAfter"] == int(inputs["ordersRootBefore"])
    assert not entry.accepts(dict(pad, filled=1))


def test_cancel_entry(entry0):
    inputs, _ = entry_inputs(2, 1)
    assert int(inputs["isCancel"]) == 1 and int(inputs["oldSlotOrderId"]) == 5
    assert entry0.accepts(inputs)
    # A cancel signed as if it were an order (the order hash as message) is rejected.
    forged = resign(dict(inputs, isCancel=0))
    w = entry0.witness(dict(forged, isCancel=1))
    w.assert_rejected_only_by("main.sig")
    # A cancel carries no fills.
    w = entry0.witness(dict(inputs, filled=1))
    w.assert_rejected_only_by("main.filled")
    # A cancel whose id is not above the slot's (5) is rejected.
    w = entry0.witness(resign(dict(inputs, orderId=5)))
    w.assert_rejected_only_by("main.idIncreases")
