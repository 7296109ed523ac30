pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";
include "../lib/Constants.circom";
include "../lib/UnsignedRange.circom";
include "../lib/SignedRange.circom";
include "../lib/OneHot.circom";
include "../lib/SelectOne.circom";
include "../lib/AccountLeaf.circom";
include "../lib/QuadMerkleUpdate.circom";
include "../lib/FundingPayment.circom";
include "../lib/InboxMessage.circom";
include "../lib/MessageEntry.circom";
include "circomlib/circuits/escalarmulfix.circom";
include "circomlib/circuits/comparators.circom";
include "../lib/FillCheck.circom";
include "../lib/MarginCheck.circom";
include "../lib/BatchParams.circom";

/// One batch of the exchange (docs/protocol.md, section 7; inputs: docs/batch-witness.md;
/// the inbox: docs/inbox.md, "In the batch").
///
/// Proves: given the public `oldRoot`, `newRoot`, `batchInfo`, `configHash`, `inboxBefore`,
/// `inboxAfter` (as the Rollup builds them), there are batch parameters (BatchParams, all
/// range-checked) with `batchInfo = n * 2^80 + tPrev * 2^40 + t`, `tPrev < t`, markets,
/// funding caps and feed key hashing to `h_markets`, marks and funding indices signed by that
/// feed for time t, each index within its cap of the insurance fund's (the last batch's)
/// index, an operator secret `s` (253 bits) with `s * BASE8 = O` and
/// `configHash = P3(13, h_markets, P3(14, Ox, Oy))`, and
///  Phase 1 (open): K account slots; used slots form a prefix with strictly increasing
///    indices, slot 0 = fee account (index 0), slot 1 = insurance fund (index 1); each
///    slot's leaf (AccountLeaf) is opened in the running root;
///  Phase 2 (funding): every used slot pays `sum_m P_m * (F*_m - F_m)` (FundingPayment),
///    the insurance fund (slot 1) receives the total, `F_m := F*_m`; every collateral
///    after funding satisfies |C| < 2^63;
///  Phase 3 (messages): used message slots form a prefix; the inbox chain runs from
///    `inboxBefore` through them, in order, to `inboxAfter` (InboxMessage: chain step,
///    ECDH with `s`, decryption, parsing); a message that decodes and whose account fits
///    D bits names a used account slot holding that index (not the insurance fund's for a
///    valid one); MessageEntry decides validity from chain-bound data and the opened state
///    alone and writes a valid order or cancel into its account's order slot,
///    seq = n * 2^16 + e, with `filled` = the total quantity of the fills that take with
///    it (check (11)), at most its size; an invalid message writes nothing;
///  Phase 4 (fills): used fills form a prefix and follow the order of messages (their
///    taker indices never decrease: a taker trades at its entry); each used fill names its
///    taker by message index (a valid order of this batch: only it may carry a `filled`
///    above 0) and obeys every rule of step 4 (FillCheck), moves N = qty * price and qty
///    between the sides, pays both fees to the fee account, rewrites the maker's slot with
///    filled + qty, and both accounts pass the margin rule afterwards (MarginCheck); every
///    collateral a fill writes stays within |C| < 2^63 (both sides', and the fee
///    account's after the fee credit); a padding fill reads market 0;
///  Phase 5 (close): every used slot's leaf is rewritten with its final state, except an
///    opened empty leaf (slots k >= 2 with key x = 0: an unknown account a message named),
///    written back unchanged; the root moves from `oldRoot` to `newRoot` through the K
///    writes in slot order (unused slots rewrite their leaf unchanged).
/// Messages and fills may only name used account slots; unused ones change nothing. The
/// insurance fund (slot 1) neither enters orders nor trades (a rule of the model).
///
/// @param  K  account slots, >= 2
/// @param  E  message slots, 1..2^16
/// @param  B  fill slots, >= 1
/// @param  D  account tree bits, even, 2..32
/// @param  S  order-slot tree bits, even, 2..16
/// @param  M  markets, 1..8
/// @input  oldRoot, newRoot, batchInfo, configHash, inboxBefore, inboxAfter, depositsBefore,
///         depositsAfter (equal: no deposit), exitsHash (0: no exit)   public (in
///         this order)
/// @input  everything else as named in docs/batch-witness.md (hints it does not list
///         there, such as accRoot or the fill's before/after values, are not inputs:
///         the circuit computes them; prover/proving/batch_circuit.py drops them)
///
/// Assumptions: every leaf in `oldRoot` was written by an earlier batch proof or is the
/// empty leaf, so its C, P_m, F_m and its order slots are in range (this circuit
/// range-checks everything it writes); every account past 0 and 1 has a key of the
/// prime-order subgroup other than the identity (ExchangeState.create_account), so x = 0
/// marks the empty leaf. Deposits and withdrawals are not part of this version.
/// Constraint count (circom --O2): K=4, E=2, B=2, D=4, S=2, M=2: 48,827
/// (tests/circuits/test_batch.py asserts it); K=4, E=2, B=16, D=32, S=8, M=2: 167,233.
template Batch(K, E, B, D, S, M) {
    assert(K >= 2);
    assert(E >= 1 && E <= 65536);
    assert(B >= 1);
    assert(D >= 2 && D <= MAX_ACCOUNT_BITS() && D % 2 == 0);
    assert(S >= 2 && S <= MAX_SLOT_BITS() && S % 2 == 0);
    assert(M >= 1 && M <= MAX_MARKETS());
    var L = D \ 2;
    var LS = S \ 2;

    // ---- public inputs (section 10; the Rollup builds them, docs/settlement.md) ----
    signal input oldRoot;
    signal input newRoot;
    signal input batchInfo;
    signal input configHash;
    signal input inboxBefore;
    signal input inboxAfter;
    // The deposit queue and the exits (docs/flows.md): this circuit takes no deposit and
    // makes no exit (BatchBook does), so the queue's chain stays and the exit list is empty.
    signal input depositsBefore;
    signal input depositsAfter;
    signal input exitsHash;
    depositsAfter === depositsBefore;
    exitsHash === 0;

    // ---- the operator's key (bound through configHash) ----
    signal input operatorSecret;
    signal input operatorKeyX;
    signal input operatorKeyY;

    // ---- batch parameters ----
    signal input batchNumber;
    signal input prevTimestamp;
    signal input timestamp;
    signal input marketTickSize[M];
    signal input marketImrBps[M];
    signal input marketMmrBps[M];
    signal input marketMakerFeePpm[M];
    signal input marketTakerFeePpm[M];
    signal input marketFundingCap[M];
    signal input feedKeyX;
    signal input feedKeyY;
    signal input feedSigR8x;
    signal input feedSigR8y;
    signal input feedSigS;
    signal input mark[M];
    signal input fundingIndex[M];

    // ---- account slots ----
    signal input accUsed[K];
    signal input accIndex[K];
    signal input accPubX[K];
    signal input accPubY[K];
    signal input accNonce[K];
    signal input accCollateral[K];
    signal input accPosSize[K][M];
    signal input accPosFunding[K][M];
    signal input accOrdersRoot[K];
    signal input accSiblings[K][L][3];

    // ---- inbox messages ----
    signal input msgUsed[E];
    signal input msgEphX[E];
    signal input msgEphY[E];
    signal input msgCiphertext[E][4];
    signal input entryAccountSlot[E];
    signal input entryOldSlotOrderId[E];
    signal input entryOldSlotOrderHash[E];
    signal input entryOldSlotFilled[E];
    signal input entryOldSlotSeq[E];
    signal input entrySlotSiblings[E][LS][3];
    signal input entryFilled[E];

    // ---- fills ----
    signal input fillUsed[B];
    signal input fillTakerEntry[B];
    signal input fillMakerAccountSlot[B];
    signal input fillMakerMarket[B];
    signal input fillMakerSide[B];
    signal input fillMakerPrice[B];
    signal input fillMakerSize[B];
    signal input fillMakerOrderId[B];
    signal input fillMakerExpiry[B];
    signal input fillMakerMaxFeePpm[B];
    signal input fillMakerTif[B];
    signal input fillMakerSlotOrderId[B];
    signal input fillMakerSlotOrderHash[B];
    signal input fillMakerSlotFilled[B];
    signal input fillMakerSlotSeq[B];
    signal input fillMakerSlotSiblings[B][LS][3];
    signal input fillQty[B];
    signal input fillPrice[B];

    // ================= batch parameters =================
    // Check (1): n, tPrev and t are the ones packed in batchInfo; the market parameters,
    // funding caps and feed key are the registered ones (configHash); the marks and funding
    // indices are signed by that feed for time t, and each index moved at most by its cap
    // since the last batch, whose index the insurance fund's leaf holds (BatchParams).
    component params = BatchParams(M);
    params.batchNumber <== batchNumber;
    params.prevTimestamp <== prevTimestamp;
    params.timestamp <== timestamp;
    params.tickSize <== marketTickSize;
    params.imrBps <== marketImrBps;
    params.mmrBps <== marketMmrBps;
    params.makerFeePpm <== marketMakerFeePpm;
    params.takerFeePpm <== marketTakerFeePpm;
    params.fundingCap <== marketFundingCap;
    params.feedKeyX <== feedKeyX;
    params.feedKeyY <== feedKeyY;
    params.feedSigR8x <== feedSigR8x;
    params.feedSigR8y <== feedSigR8y;
    params.feedSigS <== feedSigS;
    params.mark <== mark;
    params.fundingIndex <== fundingIndex;
    params.prevFunding <== accPosFunding[INSURANCE_ACCOUNT()];
    params.batchInfo === batchInfo;

    // Check (1b): the operator's key: s * BASE8 = O, and O is the registered one:
    // configHash = P3(TAG_CONFIG_OPERATOR, h_markets, P3(TAG_OPERATOR_KEY, Ox, Oy)).
    component secretBits = Num2Bits(253);
    secretBits.in <== operatorSecret;
    var BASE8[2] = [
        5299619240641551281634865583518297030282874472190772894086521144482721001553,
        16950150798460657717958625567821834550301663161624707787222815936182638968203
    ];
    component operatorPub = EscalarMulFix(253, BASE8);
    operatorPub.e <== secretBits.out;
    operatorPub.out[0] === operatorKeyX;
    operatorPub.out[1] === operatorKeyY;
    component operatorKeyHash = Poseidon(3);
    operatorKeyHash.inputs <== [TAG_OPERATOR_KEY(), operatorKeyX, operatorKeyY];
    component fullConfig = Poseidon(3);
    fullConfig.inputs <== [TAG_CONFIG_OPERATOR(), params.configHash, operatorKeyHash.out];
    fullConfig.out === configHash;

    // ================= phase 1: open =================
    // Check (2): used slots are a prefix, slots 0 and 1 are the fee account and the
    // insurance fund, indices strictly increase over used slots and fit D bits.
    component indexBits[K];
    component increasing[K];
    for (var k = 0; k < K; k++) {
        accUsed[k] * (accUsed[k] - 1) === 0;
        indexBits[k] = Num2Bits(D);
        indexBits[k].in <== accIndex[k];
    }
    accUsed[0] === 1;
    accUsed[1] === 1;
    accIndex[0] === FEE_ACCOUNT();
    accIndex[1] === INSURANCE_ACCOUNT();
    for (var k = 1; k + 1 < K; k++) {
        accUsed[k + 1] * (1 - accUsed[k]) === 0;
        increasing[k] = UnsignedRange(D);
        increasing[k].in <== accUsed[k + 1] * (accIndex[k + 1] - accIndex[k] - 1);
    }

    // ================= phase 2: funding =================
    // Check (3): each used slot pays its funding; the insurance fund receives the sum.
    component funding[K];
    signal payment[K];
    signal collFunded[K];
    component collFundedRange[K];
    var totalFunding = 0;
    for (var k = 0; k < K; k++) {
        funding[k] = FundingPayment(M);
        funding[k].posSize <== accPosSize[k];
        funding[k].posFunding <== accPosFunding[k];
        funding[k].fundingIndex <== fundingIndex;
        payment[k] <== accUsed[k] * funding[k].payment;
        totalFunding += payment[k];
    }
    for (var k = 0; k < K; k++) {
        if (k == INSURANCE_ACCOUNT()) {
            collFunded[k] <== accCollateral[k] - payment[k] + totalFunding;
        } else {
            collFunded[k] <== accCollateral[k] - payment[k];
        }
        collFundedRange[k] = SignedRange(COLLATERAL_BITS());
        collFundedRange[k].in <== collFunded[k];
    }

    // Running state: collateral and positions through the fills, order roots through
    // the entries and then the fills.
    signal coll[B + 1][K];
    signal pos[B + 1][K][M];
    signal ordersRoot[E + B + 1][K];
    for (var k = 0; k < K; k++) {
        coll[0][k] <== collFunded[k];
        pos[0][k] <== accPosSize[k];
        ordersRoot[0][k] <== accOrdersRoot[k];
    }

    // ================= phase 3: inbox messages =================
    // Check (4a): used message slots come first; the inbox chain runs through them in
    // order, from the Rollup's inboxBefore to its inboxAfter.
    component msg[E];
    signal chain[E + 1];
    chain[0] <== inboxBefore;
    for (var e = 0; e < E; e++) {
        if (e + 1 < E) {
            msgUsed[e + 1] * (1 - msgUsed[e]) === 0;
        }
        msg[e] = InboxMessage();
        msg[e].used <== msgUsed[e];
        msg[e].chainBefore <== chain[e];
        msg[e].secretBits <== secretBits.out;
        msg[e].ephX <== msgEphX[e];
        msg[e].ephY <== msgEphY[e];
        msg[e].c <== msgCiphertext[e];
        chain[e + 1] <== msg[e].chainAfter;
    }
    chain[E] === inboxAfter;

    component entrySel[E];
    component entryUsedSlot[E];
    component entryIndex[E];
    component entryPubX[E];
    component entryPubY[E];
    component entryRoot[E];
    component accountHighZero[E];
    component accountIsInsurance[E];
    component entry[E];
    signal named[E];
    signal accountOk[E];
    signal entryDelta[E];
    signal entryWrite[E][K];
    for (var e = 0; e < E; e++) {
        // Check (4b): a decodable message whose account fits D bits names a used account
        // slot holding that index (the leaf it names is the one opened: an unknown
        // account is an opened empty leaf, whose key (0, 0) verifies nothing).
        var high = 0;
        for (var i = D; i < 32; i++) {
            high += msg[e].accountBits[i];
        }
        accountHighZero[e] = IsZero();
        accountHighZero[e].in <== high;
        named[e] <== msg[e].decodable * accountHighZero[e].out;
        entrySel[e] = OneHot(K);
        entrySel[e].index <== entryAccountSlot[e];
        entryUsedSlot[e] = SelectOne(K);
        entryUsedSlot[e].sel <== entrySel[e].sel;
        entryUsedSlot[e].values <== accUsed;
        named[e] * (1 - entryUsedSlot[e].out) === 0;
        entryIndex[e] = SelectOne(K);
        entryIndex[e].sel <== entrySel[e].sel;
        entryIndex[e].values <== accIndex;
        named[e] * (entryIndex[e].out - msg[e].account) === 0;
        // The insurance fund places no orders (model decision, docs/batch-witness.md).
        accountIsInsurance[e] = IsEqual();
        accountIsInsurance[e].in <== [msg[e].account, INSURANCE_ACCOUNT()];
        accountOk[e] <== accountHighZero[e].out * (1 - accountIsInsurance[e].out);
        entryPubX[e] = SelectOne(K);
        entryPubX[e].sel <== entrySel[e].sel;
        entryPubX[e].values <== accPubX;
        entryPubY[e] = SelectOne(K);
        entryPubY[e].sel <== entrySel[e].sel;
        entryPubY[e].values <== accPubY;
        entryRoot[e] = SelectOne(K);
        entryRoot[e].sel <== entrySel[e].sel;
        entryRoot[e].values <== ordersRoot[e];

        // Check (5): a valid order or cancel enters its slot; an invalid message is a no-op.
        entry[e] = MessageEntry(S, M);
        entry[e].decodable <== msg[e].decodable;
        entry[e].accountOk <== accountOk[e];
        entry[e].kind <== msg[e].kind;
        entry[e].account <== msg[e].account;
        entry[e].market <== msg[e].market;
        entry[e].side <== msg[e].side;
        entry[e].price <== msg[e].price;
        entry[e].size <== msg[e].size;
        entry[e].orderId <== msg[e].orderId;
        entry[e].orderIdBits <== msg[e].orderIdBits;
        entry[e].expiry <== msg[e].expiry;
        entry[e].maxFeePpm <== msg[e].maxFeePpm;
        entry[e].tif <== msg[e].tif;
        entry[e].tifBits <== msg[e].tifBits;
        entry[e].r8x <== msg[e].r8x;
        entry[e].r8y <== msg[e].r8y;
        entry[e].r8Ok <== msg[e].r8Ok;
        entry[e].sigS <== msg[e].sigS;
        entry[e].pubX <== entryPubX[e].out;
        entry[e].pubY <== entryPubY[e].out;
        entry[e].oldSlotOrderId <== entryOldSlotOrderId[e];
        entry[e].oldSlotOrderHash <== entryOldSlotOrderHash[e];
        entry[e].oldSlotFilled <== entryOldSlotFilled[e];
        entry[e].oldSlotSeq <== entryOldSlotSeq[e];
        entry[e].slotSiblings <== entrySlotSiblings[e];
        entry[e].filled <== entryFilled[e];
        entry[e].ordersRootBefore <== entryRoot[e].out;
        entry[e].seq <== batchNumber * (1 << SEQ_ENTRY_BITS()) + e;
        entry[e].timestamp <== timestamp;
        entry[e].tickSize <== marketTickSize;
        entry[e].makerFeePpm <== marketMakerFeePpm;
        entry[e].takerFeePpm <== marketTakerFeePpm;
        // The fill-list batch takes no withdrawal (BatchBook does): one is a no-op here.
        entry[e].isWithdrawal <== 0;
        entry[e].withdrawHash <== 0;

        // The account's order root moves; the others stay.
        entryDelta[e] <== entry[e].ordersRootAfter - entryRoot[e].out;
        for (var k = 0; k < K; k++) {
            entryWrite[e][k] <== entrySel[e].sel[k] * entryDelta[e];
            ordersRoot[e + 1][k] <== ordersRoot[e][k] + entryWrite[e][k];
        }
    }

    // ================= phase 4: fills =================
    // Check (6a): used fills come first and follow the order of entries: a taker trades
    // at its entry (protocol section 7, order of events), so the fills of entry e come
    // before those of entry e + 1 and the margin rule is checked along that path. The
    // taker entry indices are < E <= 2^16 (OneHot below), so a decrease is a negative
    // difference, far outside 16 bits.
    component fillOrder[B];
    for (var f = 0; f + 1 < B; f++) {
        fillUsed[f + 1] * (1 - fillUsed[f]) === 0;
        fillOrder[f] = UnsignedRange(SEQ_ENTRY_BITS());
        fillOrder[f].in <== fillUsed[f + 1] * (fillTakerEntry[f + 1] - fillTakerEntry[f]);
    }

    component takerEntrySel[B];
    component takerEntrySlot[B];
    component takerEntryMarket[B];
    component takerEntrySide[B];
    component takerEntryPrice[B];
    component takerEntryTif[B];
    component takerSel[B];
    component makerSel[B];
    component makerUsedSlot[B];
    component takerIndex[B];
    component makerIndex[B];
    component makerRoot[B];
    component takerColl[B];
    component makerColl[B];
    component takerPos[B][M];
    component makerPos[B][M];
    component fill[B];
    component takerCollRange[B];
    component makerCollRange[B];
    component feeCollRange[B];
    component takerMargin[B];
    component makerMargin[B];
    signal takerEntryQty[B][E];
    signal takerQty[B];
    signal takerFlow[B];
    signal takerCollAfter[B];
    signal makerCollAfter[B];
    signal takerPosDelta[B][M];
    signal takerPosAfter[B][M];
    signal makerPosAfter[B][M];
    signal writeCollT[B][K];
    signal writeCollM[B][K];
    signal writePos[B][K][M];
    signal writeRootM[B][K];
    for (var f = 0; f < B; f++) {
        // Check (6b): the taker is entry fillTakerEntry[f] < E of this batch; its quantity
        // counts towards that entry's `filled` (check (11)). That makes it a used order
        // entry (so its account slot is a used one, not the insurance fund's, and its
        // signature and fields were checked at entry): a used fill has qty >= 1, and
        // OrderEntry allows `filled` > 0 only for an order (not a cancel, not padding).
        takerEntrySel[f] = OneHot(E);
        takerEntrySel[f].index <== fillTakerEntry[f];
        takerEntrySlot[f] = SelectOne(E);
        takerEntrySlot[f].sel <== takerEntrySel[f].sel;
        takerEntrySlot[f].values <== entryAccountSlot;
        takerEntryMarket[f] = SelectOne(E);
        takerEntryMarket[f].sel <== takerEntrySel[f].sel;
        for (var e = 0; e < E; e++) {
            takerEntryMarket[f].values[e] <== msg[e].market;
        }
        takerEntrySide[f] = SelectOne(E);
        takerEntrySide[f].sel <== takerEntrySel[f].sel;
        for (var e = 0; e < E; e++) {
            takerEntrySide[f].values[e] <== msg[e].side;
        }
        takerEntryPrice[f] = SelectOne(E);
        takerEntryPrice[f].sel <== takerEntrySel[f].sel;
        for (var e = 0; e < E; e++) {
            takerEntryPrice[f].values[e] <== msg[e].price;
        }
        takerEntryTif[f] = SelectOne(E);
        takerEntryTif[f].sel <== takerEntrySel[f].sel;
        for (var e = 0; e < E; e++) {
            takerEntryTif[f].values[e] <== msg[e].tif;
        }
        for (var e = 0; e < E; e++) {
            takerEntryQty[f][e] <== takerEntrySel[f].sel[e] * fillQty[f];
        }
        // The taker's seq: n * 2^16 + e_t (linear in the one-hot).
        var takerEntryIndex = 0;
        for (var e = 0; e < E; e++) {
            takerEntryIndex += e * takerEntrySel[f].sel[e];
        }

        // Check (7): the maker names a used account slot, not the insurance fund's (its
        // index is what FillCheck hashes the maker's order with).
        takerSel[f] = OneHot(K);
        takerSel[f].index <== takerEntrySlot[f].out;
        makerSel[f] = OneHot(K);
        makerSel[f].index <== fillMakerAccountSlot[f];
        makerUsedSlot[f] = SelectOne(K);
        makerUsedSlot[f].sel <== makerSel[f].sel;
        makerUsedSlot[f].values <== accUsed;
        fillUsed[f] * (1 - makerUsedSlot[f].out) === 0;
        fillUsed[f] * makerSel[f].sel[INSURANCE_ACCOUNT()] === 0;
        takerIndex[f] = SelectOne(K);
        takerIndex[f].sel <== takerSel[f].sel;
        takerIndex[f].values <== accIndex;
        makerIndex[f] = SelectOne(K);
        makerIndex[f].sel <== makerSel[f].sel;
        makerIndex[f].values <== accIndex;

        // Read both accounts' current state.
        makerRoot[f] = SelectOne(K);
        makerRoot[f].sel <== makerSel[f].sel;
        makerRoot[f].values <== ordersRoot[E + f];
        takerColl[f] = SelectOne(K);
        takerColl[f].sel <== takerSel[f].sel;
        takerColl[f].values <== coll[f];
        makerColl[f] = SelectOne(K);
        makerColl[f].sel <== makerSel[f].sel;
        makerColl[f].values <== coll[f];
        for (var m = 0; m < M; m++) {
            takerPos[f][m] = SelectOne(K);
            takerPos[f][m].sel <== takerSel[f].sel;
            makerPos[f][m] = SelectOne(K);
            makerPos[f][m].sel <== makerSel[f].sel;
            for (var k = 0; k < K; k++) {
                takerPos[f][m].values[k] <== pos[f][k][m];
                makerPos[f][m].values[k] <== pos[f][k][m];
            }
        }

        // Check (8): the rules of the fill and the maker's slot write.
        fill[f] = FillCheck(S, M);
        fill[f].used <== fillUsed[f];
        fill[f].timestamp <== timestamp;
        fill[f].takerSeq <== batchNumber * (1 << SEQ_ENTRY_BITS()) + takerEntryIndex;
        fill[f].takerAccountIndex <== takerIndex[f].out;
        fill[f].makerAccountIndex <== makerIndex[f].out;
        fill[f].makerOrdersRoot <== makerRoot[f].out;
        // A padding fill reads market 0, not message slot e's (a no-op message may
        // carry any market bits, and FillCheck's market selector needs one below M).
        fill[f].takerMarket <== fillUsed[f] * takerEntryMarket[f].out;
        fill[f].takerSide <== takerEntrySide[f].out;
        fill[f].takerPrice <== takerEntryPrice[f].out;
        fill[f].takerTif <== takerEntryTif[f].out;
        fill[f].makerMarket <== fillMakerMarket[f];
        fill[f].makerSide <== fillMakerSide[f];
        fill[f].makerPrice <== fillMakerPrice[f];
        fill[f].makerSize <== fillMakerSize[f];
        fill[f].makerOrderId <== fillMakerOrderId[f];
        fill[f].makerExpiry <== fillMakerExpiry[f];
        fill[f].makerMaxFeePpm <== fillMakerMaxFeePpm[f];
        fill[f].makerTif <== fillMakerTif[f];
        fill[f].makerSlotOrderId <== fillMakerSlotOrderId[f];
        fill[f].makerSlotOrderHash <== fillMakerSlotOrderHash[f];
        fill[f].makerSlotFilled <== fillMakerSlotFilled[f];
        fill[f].makerSlotSeq <== fillMakerSlotSeq[f];
        fill[f].makerSlotSiblings <== fillMakerSlotSiblings[f];
        fill[f].qty <== fillQty[f];
        fill[f].price <== fillPrice[f];
        fill[f].makerFeePpm <== marketMakerFeePpm;
        fill[f].takerFeePpm <== marketTakerFeePpm;

        // The buyer gets +qty and pays N, the seller the opposite; both pay their fee.
        // takerQty = (1 - 2*takerIsSell) * qty, takerFlow = (1 - 2*takerIsSell) * N.
        takerQty[f] <== (1 - 2 * fill[f].takerIsSell) * fillQty[f];
        takerFlow[f] <== (1 - 2 * fill[f].takerIsSell) * fill[f].notional;
        takerCollAfter[f] <== takerColl[f].out - takerFlow[f] - fill[f].takerFee;
        makerCollAfter[f] <== makerColl[f].out + takerFlow[f] - fill[f].makerFee;
        for (var m = 0; m < M; m++) {
            takerPosDelta[f][m] <== fill[f].marketSel[m] * takerQty[f];
            takerPosAfter[f][m] <== takerPos[f][m].out + takerPosDelta[f][m];
            makerPosAfter[f][m] <== makerPos[f][m].out - takerPosDelta[f][m];
        }

        // Check (9): both collaterals stay within |C| < 2^63 (the fee account's after its
        // fee credit: check (9b) below).
        takerCollRange[f] = SignedRange(COLLATERAL_BITS());
        takerCollRange[f].in <== takerCollAfter[f];
        makerCollRange[f] = SignedRange(COLLATERAL_BITS());
        makerCollRange[f].in <== makerCollAfter[f];

        // Check (10): both accounts pass the margin rule after the fill.
        takerMargin[f] = MarginCheck(M);
        takerMargin[f].enabled <== fillUsed[f];
        takerMargin[f].collBefore <== takerColl[f].out;
        takerMargin[f].collAfter <== takerCollAfter[f];
        takerMargin[f].posAfter <== takerPosAfter[f];
        takerMargin[f].mark <== mark;
        takerMargin[f].imrBps <== marketImrBps;
        takerMargin[f].mmrBps <== marketMmrBps;
        makerMargin[f] = MarginCheck(M);
        makerMargin[f].enabled <== fillUsed[f];
        makerMargin[f].collBefore <== makerColl[f].out;
        makerMargin[f].collAfter <== makerCollAfter[f];
        makerMargin[f].posAfter <== makerPosAfter[f];
        makerMargin[f].mark <== mark;
        makerMargin[f].imrBps <== marketImrBps;
        makerMargin[f].mmrBps <== marketMmrBps;
        for (var m = 0; m < M; m++) {
            takerMargin[f].posBefore[m] <== takerPos[f][m].out;
            makerMargin[f].posBefore[m] <== makerPos[f][m].out;
        }

        // Write the state back: the two sides' slots change (the accounts differ when
        // the fill is used; a padding fill moves nothing), the fee account (slot 0)
        // receives both fees, the maker's order root moves.
        for (var k = 0; k < K; k++) {
            writeCollT[f][k] <== takerSel[f].sel[k] * (takerCollAfter[f] - takerColl[f].out);
            writeCollM[f][k] <== makerSel[f].sel[k] * (makerCollAfter[f] - makerColl[f].out);
            if (k == FEE_ACCOUNT()) {
                coll[f + 1][k] <== coll[f][k] + writeCollT[f][k] + writeCollM[f][k]
                    + fill[f].takerFee + fill[f].makerFee;
            } else {
                coll[f + 1][k] <== coll[f][k] + writeCollT[f][k] + writeCollM[f][k];
            }
            for (var m = 0; m < M; m++) {
                writePos[f][k][m] <== (takerSel[f].sel[k] - makerSel[f].sel[k]) * takerPosDelta[f][m];
                pos[f + 1][k][m] <== pos[f][k][m] + writePos[f][k][m];
            }
            writeRootM[f][k] <== makerSel[f].sel[k] * (fill[f].makerOrdersRootAfter - makerRoot[f].out);
            ordersRoot[E + f + 1][k] <== ordersRoot[E + f][k] + writeRootM[f][k];
        }

        // Check (9b): the fee account's collateral after the fee credit stays within
        // |C| < 2^63 after every fill, not only at the end (it may trade itself, so a
        // later fill could bring it back).
        feeCollRange[f] = SignedRange(COLLATERAL_BITS());
        feeCollRange[f].in <== coll[f + 1][FEE_ACCOUNT()];
    }

    // Check (11): each entry's `filled` (written to its slot at entry) is the sum of the
    // quantities of the fills that name it as their taker.
    for (var e = 0; e < E; e++) {
        var takerFills = 0;
        for (var f = 0; f < B; f++) {
            takerFills += takerEntryQty[f][e];
        }
        entryFilled[e] === takerFills;
    }

    // ================= phase 5: close =================
    component leafBefore[K];
    component leafAfter[K];
    component collFinalRange[K];
    component write[K];
    component accEmpty[K];
    signal writes[K];
    signal written[K];
    signal root[K + 1];
    root[0] <== oldRoot;
    for (var k = 0; k < K; k++) {
        leafBefore[k] = AccountLeaf(M);
        leafBefore[k].pubX <== accPubX[k];
        leafBefore[k].pubY <== accPubY[k];
        leafBefore[k].nonce <== accNonce[k];
        leafBefore[k].collateral <== accCollateral[k];
        leafBefore[k].posSize <== accPosSize[k];
        leafBefore[k].posFunding <== accPosFunding[k];
        leafBefore[k].ordersRoot <== accOrdersRoot[k];

        // Check (12): the final collateral is in range (positions were checked by the
        // margin checks of the fills that moved them, funding indices by BatchParams).
        collFinalRange[k] = SignedRange(COLLATERAL_BITS());
        collFinalRange[k].in <== coll[B][k];

        leafAfter[k] = AccountLeaf(M);
        leafAfter[k].pubX <== accPubX[k];
        leafAfter[k].pubY <== accPubY[k];
        leafAfter[k].nonce <== accNonce[k];
        leafAfter[k].collateral <== coll[B][k];
        leafAfter[k].posSize <== pos[B][k];
        leafAfter[k].posFunding <== fundingIndex;
        leafAfter[k].ordersRoot <== ordersRoot[E + B][k];
        // An opened empty leaf (a message named an unknown account) stays empty: past
        // slots 0 and 1 (always written: the fee account and the insurance fund may have
        // no key), a leaf with key x = 0 is the empty leaf, since every other account's
        // key is a prime-order point other than the identity (ExchangeState.create_account),
        // the only points with x = 0 being the identity and (0, -1).
        if (k < 2) {
            writes[k] <== accUsed[k];
        } else {
            accEmpty[k] = IsZero();
            accEmpty[k].in <== accPubX[k];
            writes[k] <== accUsed[k] * (1 - accEmpty[k].out);
        }
        written[k] <== leafBefore[k].leaf + writes[k] * (leafAfter[k].leaf - leafBefore[k].leaf);

        // Check (13): leaf a_k holds leafBefore in the running root, and writing it moves
        // the root on.
        write[k] = QuadMerkleUpdate(L);
        write[k].oldLeaf <== leafBefore[k].leaf;
        write[k].newLeaf <== written[k];
        for (var l = 0; l < L; l++) {
            write[k].pathIndex[l] <== indexBits[k].out[2 * l] + 2 * indexBits[k].out[2 * l + 1];
        }
        write[k].siblings <== accSiblings[k];
        write[k].oldRoot === root[k];
        root[k + 1] <== write[k].newRoot;
    }
    // Check (14): the last write gives the public new root.
    root[K] === newRoot;
}
