pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";
include "Constants.circom";
include "OrderHash.circom";
include "SlotLeaf.circom";
include "QuadMerkleUpdate.circom";

/// The order slot behind a book head: the facts EntryMatch decides a step on, proven
/// from the maker's order slot, and the slot's write (docs/book.md, "One taker, proven").
///
/// Proves, when `act = 1` (EntryMatch's step acts on a head whose ref names
/// `(makerAccountIndex, makerOrderId)`):
///  (1) the slot leaf `H_SLOT(slotOrderId, slotOrderHash, slotFilled, slotSeq)` is at slot
///      `makerOrderId mod 2^S` of `makerOrdersRoot`;
///  (2) `same = (slotOrderId = makerOrderId)`; when same, the order body hashes to the
///      slot's order hash: `slotOrderHash = H_ORDER(makerAccountIndex, market, side,
///      price, size, makerOrderId, expiry, maxFeePpm, tif)`;
///  (3) `live = same * (expiry >= timestamp) * (size - slotFilled > 0)`: the head's order
///      is still in its slot, unexpired and not done; else the head is stale (a cancel or
///      a larger order id took the slot, it expired, or it was marked done); `left` is
///      `size - slotFilled` when live, else 0;
///  (4) when live, the order is of the head's book: `market = bookMarket`,
///      `side = bookSide`; `rank = key * 2^56 + slotSeq` (`key`: the price for an ask,
///      `2^40 - price` for a bid), 0 when not live: EntryMatch asserts a live head's rank
///      equal to it, so a fill at `price` is at the price the head was ranked at;
///  (5) the slot is rewritten with `filled := slotFilled + qty` for a fill and
///      `filled := size` for a cancel (self-trade, maker margin: the order is done);
///      a stale head's slot is unchanged (`qty` and `cancel` are 0 unless live).
///      `ordersRootAfter` is the new order root
///      (`makerOrdersRoot` when `act = 0`).
/// When `act = 0` nothing is checked and the root does not move (the inputs are ignored).
///
/// @param  S  order-slot tree bits, even, 2..16
/// @input  act, cancel       bits (the step's claims stepAct, stepCancel)
/// @input  qty               the step's claim stepQty (at most `left`, 0 unless a fill)
/// @input  timestamp         t (range-checked by the batch)
/// @input  bookMarket, bookSide   the market and side of the book the head is in
/// @input  makerAccountIndex, makerOrderId   the step's claims stepMakerAccount,
///         stepMakerOrderId (< 2^64; EntryMatch checks them against the head's ref)
/// @input  makerOrdersRoot   the maker account's current order root (the batch selects it
///         from the account slot holding makerAccountIndex)
/// @input  slotOrderId, slotOrderHash, slotFilled, slotSeq, slotSiblings[S/2][3]
/// @input  market, side, price, size, expiry, maxFeePpm, tif   the order body (anything
///         when the slot holds another id)
/// @output live, left, rank, ordersRootAfter   (live, left, rank: EntryMatch's makerLive,
///         makerLeft, makerRank)
///
/// Assumptions: slot leaves were written by MessageEntry or this template, so a slot
/// holding an order's id holds that order's hash with `filled <= size` and `seq < 2^56`,
/// and that order's fields were range-checked at entry (price in [1, 2^40), expiry
/// < 2^40, size < 2^32); `timestamp < 2^40`. The maker's fee cap was checked at entry
/// against the market's maker rate, which configHash fixes.
/// Constraint count (circom --O2): see docs/circuits.md (tests/circuits/test_head_slot.py
/// asserts it).
template HeadSlot(S) {
    assert(S >= 2 && S <= MAX_SLOT_BITS() && S % 2 == 0);
    var LS = S \ 2;
    signal input act;
    signal input cancel;
    signal input qty;
    signal input timestamp;
    signal input bookMarket;
    signal input bookSide;
    signal input makerAccountIndex;
    signal input makerOrderId;
    signal input makerOrdersRoot;
    signal input slotOrderId;
    signal input slotOrderHash;
    signal input slotFilled;
    signal input slotSeq;
    signal input slotSiblings[LS][3];
    signal input market;
    signal input side;
    signal input price;
    signal input size;
    signal input expiry;
    signal input maxFeePpm;
    signal input tif;
    signal output live;
    signal output left;
    signal output rank;
    signal output ordersRootAfter;

    act * (act - 1) === 0;
    cancel * (cancel - 1) === 0;

    // Check (1): the slot's opening (its index: the order id's low S bits).
    component idBits = Num2Bits(ORDER_ID_BITS());
    idBits.in <== act * makerOrderId;
    component oldLeaf = SlotLeaf();
    oldLeaf.orderId <== slotOrderId;
    oldLeaf.orderHash <== slotOrderHash;
    oldLeaf.filled <== slotFilled;
    oldLeaf.seq <== slotSeq;

    // Check (2): the slot holds the head's order id, and then that order's body.
    component same = IsEqual();
    same.in <== [slotOrderId, makerOrderId];
    signal holds <== act * same.out;
    component body = OrderHash();
    body.accountIndex <== makerAccountIndex;
    body.market <== market;
    body.side <== side;
    body.price <== price;
    body.size <== size;
    body.orderId <== makerOrderId;
    body.expiry <== expiry;
    body.maxFeePpm <== maxFeePpm;
    body.tif <== tif;
    holds * (slotOrderHash - body.out) === 0;

    // Check (3): live = held, unexpired (t <= expiry) and not done (filled < size).
    component unexpired = LessThan(TIME_BITS() + 1);
    unexpired.in <== [holds * timestamp, holds * expiry + 1];
    signal rest <== size - slotFilled;
    component done = IsZero();
    done.in <== holds * rest;
    signal holdsOpen <== holds * (1 - done.out);
    live <== holdsOpen * unexpired.out;
    left <== live * rest;

    // Check (4): a live head is this order, at its rank.
    live * (market - bookMarket) === 0;
    live * (side - bookSide) === 0;
    signal sidePart <== side * (2 * price - (1 << PRICE_BITS()));
    signal key <== (1 << PRICE_BITS()) - price + sidePart;
    rank <== live * (key * (1 << 56) + slotSeq);

    // Check (5): a fill or a cancel only on a live head (EntryMatch decides both on
    // makerLive = live); the slot's write: filled + qty for a fill, size for a cancel.
    qty * (1 - live) === 0;
    cancel * (1 - live) === 0;
    signal doneFill <== cancel * (rest - qty);
    component newLeaf = SlotLeaf();
    newLeaf.orderId <== slotOrderId;
    newLeaf.orderHash <== slotOrderHash;
    newLeaf.filled <== slotFilled + qty + doneFill;
    newLeaf.seq <== slotSeq;
    component write = QuadMerkleUpdate(LS);
    write.oldLeaf <== oldLeaf.leaf;
    write.newLeaf <== newLeaf.leaf;
    write.siblings <== slotSiblings;
    for (var l = 0; l < LS; l++) {
        write.pathIndex[l] <== idBits.out[2 * l] + 2 * idBits.out[2 * l + 1];
    }
    act * (write.oldRoot - makerOrdersRoot) === 0;
    ordersRootAfter <== makerOrdersRoot + act * (write.newRoot - makerOrdersRoot);
}
