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
include "../lib/BatchParams.circom";
include "../lib/BookRoot.circom";
include "../lib/EntryBook.circom";
include "../lib/DepositEntry.circom";
include "../lib/WithdrawEntry.circom";

/// One batch of the exchange with the committed book (docs/book.md, "The batch"): the
/// batch circuit of a venue configured with the book (the demo's), whose witness the
/// builder of prover/exchange/bookbatch.py makes from the inbox messages alone; it
/// replaces circuits/main/Batch.circom (the operator's fill list) once that circuit's
/// tests have moved (docs/book.md, "What is left").
///
/// Proves what Batch proves for the parameters, the operator key, phase 1 (open),
/// phase 2 (funding) and the message slots (the inbox chain, decryption, validity, the
/// slot write), with the state root `oldRoot = H_STATE(accountsRoot, booksRoot)` over
/// the account tree and the `2M` book sides (BookRoot), and instead of the operator's
/// fill list:
///  Phase 2b (deposits): the next deposits of the Rollup's queue, in order (its chain from
///    depositsBefore to depositsAfter), each credited, opening its account, or refunded
///    (DepositEntry); exitsHash is the chain of the refunds, then of the paid withdrawals
///    (docs/flows.md);
///  Phase 3 (withdrawals): a withdrawal message (InboxMessage's wdDecodable) names its
///    account like an order; its signature over H_WITHDRAW(account, amount, recipient,
///    nonce) at the account's running nonce uses that nonce up, and it is paid (debited
///    before the entry's matching, appended to the exits) when the account keeps its
///    initial margin after it (WithdrawEntry);
///  Phase 3' (matching): after message slot e, EntryBook matches it (a valid order; any
///    other message is idle) by the rules of docs/book.md against the running book
///    sides, on the running account state: every step's maker, kind and quantity are the
///    rules', its facts read from the state at that step; the entry's `filled` (written
///    to its slot before its steps) is what it filled; a remainder rests at its place or
///    is dropped as the rules say;
///  Phase 5 (close): the account leaves are written as in Batch, from `accountsRoot`,
///    and `newRoot = H_STATE(accountsRootNew, booksRootNew)`.
///
/// @param  K, E, D, S, M  as Batch
/// @param  F              steps per entry (rule 6), >= 1
/// @param  BB, CL         book side bits (2^BB orders per side, even) and cap levels
/// @param  P              deposit slots, >= 1
/// @input  as Batch without the fill inputs; `accountsRoot` (the old account root, under
///         oldRoot), the opened sides `book*[2M]`, and per entry EntryBook's step and
///         insertion witness (`eStep*[E][F]`, `eMaker*[E][F]`, `eRest[E]`, `eIns*[E]`)
///
/// Assumptions: Batch's, and the book's invariants (docs/book.md) for the old sides.
/// Constraint count (circom --O2): tests/circuits/test_batch_book.py asserts it.
template BatchBook(K, E, F, D, S, M, BB, CL, P) {
    assert(K >= 2);
    assert(E >= 1 && E <= 65536);
    assert(F >= 1);
    assert(D >= 2 && D <= MAX_ACCOUNT_BITS() && D % 2 == 0);
    assert(S >= 2 && S <= MAX_SLOT_BITS() && S % 2 == 0);
    assert(M >= 1 && M <= MAX_MARKETS());
    assert(BB % 2 == 0 && CL >= 0 && CL < BB \ 2);
    assert(P >= 1 && P <= 65536);
    var L = D \ 2;
    var LS = S \ 2;
    var LB = BB \ 2 - CL;
    var N = 4 ** CL;

    // ---- public inputs (section 10; the Rollup builds them, docs/settlement.md) ----
    signal input oldRoot;
    signal input newRoot;
    signal input batchInfo;
    signal input configHash;
    signal input inboxBefore;
    signal input inboxAfter;
    signal input depositsBefore;
    signal input depositsAfter;
    signal input exitsHash;

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


    // ---- the deposit queue's slots ----
    signal input depUsed[P];
    signal input depIndex[P];
    signal input depKeyX[P];
    signal input depKeyY[P];
    signal input depAmount[P];
    signal input depDepositor[P];
    signal input depSlot[P];
    signal input depKeyQx[P];
    signal input depKeyQy[P];
    signal input depKeyTorsion[P];

    // ---- the state root's parts, and the book sides as opened ----
    signal input accountsRoot;
    signal input bookCap[2 * M][N];
    signal input bookHeadPtr[2 * M];
    signal input bookHeadRank[2 * M];
    signal input bookFreePtr[2 * M];
    signal input bookFrontier[2 * M];

    // ---- each entry's matching (EntryBook's witness) ----
    signal input eStepAct[E][F];
    signal input eStepPop[E][F];
    signal input eStepQty[E][F];
    signal input eStepCancel[E][F];
    signal input eStepTryQty[E][F];
    signal input eStepMakerAccount[E][F];
    signal input eStepMakerOrderId[E][F];
    signal input eStepMakerSlot[E][F];
    signal input eStepLeafRef[E][F];
    signal input eStepLeafNextPtr[E][F];
    signal input eStepLeafNextRank[E][F];
    signal input eStepSiblings[E][F][LB][3];
    signal input eMakerSlotOrderId[E][F];
    signal input eMakerSlotOrderHash[E][F];
    signal input eMakerSlotFilled[E][F];
    signal input eMakerSlotSeq[E][F];
    signal input eMakerSlotSiblings[E][F][LS][3];
    signal input eMakerMarket[E][F];
    signal input eMakerSide[E][F];
    signal input eMakerPrice[E][F];
    signal input eMakerSize[E][F];
    signal input eMakerExpiry[E][F];
    signal input eMakerMaxFeePpm[E][F];
    signal input eMakerTif[E][F];
    signal input eRest[E];
    signal input eInsAtHead[E];
    signal input eInsAllocNextFree[E];
    signal input eInsAllocSiblings[E][LB][3];
    signal input eInsPredPtr[E];
    signal input eInsPredRank[E];
    signal input eInsPredRef[E];
    signal input eInsPredNextPtr[E];
    signal input eInsPredNextRank[E];
    signal input eInsPredSiblings[E][LB][3];

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


    // ================= phase 2b: deposits =================
    // Check (3b): used deposit slots come first; the queue's chain runs through them in
    // order, from the Rollup's depositsBefore to its depositsAfter; each deposit is credited
    // to its account, opens it, or is refunded (DepositEntry); the refunds are the exits.
    component dep[P];
    signal depChain[P + 1];
    signal exitChain[P + 1];
    signal keyX[P + 1][K];
    signal keyY[P + 1][K];
    signal collDep[P + 1][K];
    depChain[0] <== depositsBefore;
    exitChain[0] <== 0;
    keyX[0] <== accPubX;
    keyY[0] <== accPubY;
    collDep[0] <== collFunded;
    for (var i = 0; i < P; i++) {
        if (i + 1 < P) {
            depUsed[i + 1] * (1 - depUsed[i]) === 0;
        }
        dep[i] = DepositEntry(K);
        dep[i].used <== depUsed[i];
        dep[i].chainBefore <== depChain[i];
        dep[i].exitsBefore <== exitChain[i];
        dep[i].index <== depIndex[i];
        dep[i].keyX <== depKeyX[i];
        dep[i].keyY <== depKeyY[i];
        dep[i].amount <== depAmount[i];
        dep[i].depositor <== depDepositor[i];
        dep[i].slot <== depSlot[i];
        dep[i].keyQx <== depKeyQx[i];
        dep[i].keyQy <== depKeyQy[i];
        dep[i].keyTorsion <== depKeyTorsion[i];
        dep[i].accUsed <== accUsed;
        dep[i].accIndex <== accIndex;
        dep[i].keyXIn <== keyX[i];
        dep[i].keyYIn <== keyY[i];
        dep[i].collIn <== collDep[i];
        depChain[i + 1] <== dep[i].chainAfter;
        exitChain[i + 1] <== dep[i].exitsAfter;
        keyX[i + 1] <== dep[i].keyXOut;
        keyY[i + 1] <== dep[i].keyYOut;
        collDep[i + 1] <== dep[i].collOut;
    }
    depChain[P] === depositsAfter;

    // Running state through the entries: collateral and positions (EntryBook's fills),
    // order roots (each entry's slot write, then its steps' maker writes), book sides.
    signal coll[E + 1][K];
    signal collMid[E][K];
    signal pos[E + 1][K][M];
    signal nonce[E + 1][K];
    signal exitMsg[E + 1];
    signal ordersRoot[E + 1][K];
    signal rootMid[E][K];
    signal sCap[E + 1][2 * M][N];
    signal sHeadPtr[E + 1][2 * M];
    signal sHeadRank[E + 1][2 * M];
    signal sFreePtr[E + 1][2 * M];
    signal sFrontier[E + 1][2 * M];
    for (var k = 0; k < K; k++) {
        coll[0][k] <== collDep[P][k];
        nonce[0][k] <== accNonce[k];
        pos[0][k] <== accPosSize[k];
        ordersRoot[0][k] <== accOrdersRoot[k];
    }
    sCap[0] <== bookCap;
    sHeadPtr[0] <== bookHeadPtr;
    sHeadRank[0] <== bookHeadRank;
    sFreePtr[0] <== bookFreePtr;
    sFrontier[0] <== bookFrontier;

    // Check (0): the old state root is over the account root the writes start from and
    // the books as opened.
    component booksOld = BookRoot(M, CL);
    booksOld.cap <== bookCap;
    booksOld.headPtr <== bookHeadPtr;
    booksOld.headRank <== bookHeadRank;
    booksOld.freePtr <== bookFreePtr;
    booksOld.frontier <== bookFrontier;
    component stateOld = PoseidonEx(2, 1);
    stateOld.initialState <== TAG_STATE();
    stateOld.inputs <== [accountsRoot, booksOld.root];
    stateOld.out[0] === oldRoot;


    // ================= phase 3: inbox messages =================
    exitMsg[0] <== exitChain[P];
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
    component wdHash[E];
    component entryNonce[E];
    component entryColl[E];
    component entryPos[E][M];
    component wd[E];
    signal wdDebit[E][K];
    signal named[E];
    signal accountOk[E];
    signal entryDelta[E];
    signal entryWrite[E][K];
    signal validOrder[E];
    component match[E];
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
        // An order or cancel (decodable) or a withdrawal (wdDecodable; never both).
        named[e] <== (msg[e].decodable + msg[e].wdDecodable) * accountHighZero[e].out;
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
        entryPubX[e].values <== keyX[P];
        entryPubY[e] = SelectOne(K);
        entryPubY[e].sel <== entrySel[e].sel;
        entryPubY[e].values <== keyY[P];
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
        // A withdrawal's signature is over H_WITHDRAW(account, amount, recipient, nonce)
        // with the account's running nonce (docs/flows.md, "Withdrawals").
        entryNonce[e] = SelectOne(K);
        entryNonce[e].sel <== entrySel[e].sel;
        entryNonce[e].values <== nonce[e];
        wdHash[e] = PoseidonEx(4, 1);
        wdHash[e].initialState <== TAG_WITHDRAW();
        wdHash[e].inputs <== [msg[e].account, msg[e].amount, msg[e].recipient, entryNonce[e].out];
        entry[e].isWithdrawal <== msg[e].wdDecodable;
        entry[e].withdrawHash <== wdHash[e].out[0];

        // Check (5b): a withdrawal uses the nonce it was signed at, and is paid when the
        // account keeps its initial margin after it (WithdrawEntry): the debit comes before
        // the entry's matching (a withdrawal matches nothing), the exit after the earlier
        // ones.
        entryColl[e] = SelectOne(K);
        entryColl[e].sel <== entrySel[e].sel;
        entryColl[e].values <== coll[e];
        wd[e] = WithdrawEntry(M);
        for (var m = 0; m < M; m++) {
            entryPos[e][m] = SelectOne(K);
            entryPos[e][m].sel <== entrySel[e].sel;
            for (var k = 0; k < K; k++) {
                entryPos[e][m].values[k] <== pos[e][k][m];
            }
            wd[e].pos[m] <== entryPos[e][m].out;
        }
        wd[e].enabled <== msg[e].wdDecodable * accountOk[e];
        wd[e].sigOk <== entry[e].sigOk;
        wd[e].amount <== msg[e].amount;
        wd[e].recipient <== msg[e].recipient;
        wd[e].coll <== entryColl[e].out;
        wd[e].mark <== mark;
        wd[e].imrBps <== marketImrBps;
        wd[e].mmrBps <== marketMmrBps;
        wd[e].exitsBefore <== exitMsg[e];
        exitMsg[e + 1] <== wd[e].exitsAfter;
        for (var k = 0; k < K; k++) {
            wdDebit[e][k] <== entrySel[e].sel[k] * wd[e].debit;
            collMid[e][k] <== coll[e][k] - wdDebit[e][k];
            nonce[e + 1][k] <== nonce[e][k] + entrySel[e].sel[k] * wd[e].consumed;
        }

        // The account's order root moves; the others stay.
        entryDelta[e] <== entry[e].ordersRootAfter - entryRoot[e].out;
        for (var k = 0; k < K; k++) {
            entryWrite[e][k] <== entrySel[e].sel[k] * entryDelta[e];
            rootMid[e][k] <== ordersRoot[e][k] + entryWrite[e][k];
        }

        // Phase 3' (matching): the entry, if a valid order, against the book.
        validOrder[e] <== entry[e].valid * (1 - msg[e].kind);
        match[e] = EntryBook(F, LB, CL, K, S, M);
        match[e].enabled <== validOrder[e];
        match[e].takerSlot <== entryAccountSlot[e];
        match[e].takerOrderId <== msg[e].orderId;
        match[e].takerMarket <== msg[e].market;
        match[e].takerSide <== msg[e].side;
        match[e].takerPrice <== msg[e].price;
        match[e].takerSize <== msg[e].size;
        match[e].takerTif <== msg[e].tif;
        match[e].takerSeq <== batchNumber * (1 << SEQ_ENTRY_BITS()) + e;
        match[e].timestamp <== timestamp;
        match[e].makerFeePpm <== marketMakerFeePpm;
        match[e].takerFeePpm <== marketTakerFeePpm;
        match[e].imrBps <== marketImrBps;
        match[e].mmrBps <== marketMmrBps;
        match[e].mark <== mark;
        match[e].accUsed <== accUsed;
        match[e].accIndex <== accIndex;
        match[e].collIn <== collMid[e];
        match[e].posIn <== pos[e];
        match[e].ordersRootIn <== rootMid[e];
        match[e].sideCap <== sCap[e];
        match[e].sideHeadPtr <== sHeadPtr[e];
        match[e].sideHeadRank <== sHeadRank[e];
        match[e].sideFreePtr <== sFreePtr[e];
        match[e].sideFrontier <== sFrontier[e];
        match[e].stepAct <== eStepAct[e];
        match[e].stepPop <== eStepPop[e];
        match[e].stepQty <== eStepQty[e];
        match[e].stepCancel <== eStepCancel[e];
        match[e].stepTryQty <== eStepTryQty[e];
        match[e].stepMakerAccount <== eStepMakerAccount[e];
        match[e].stepMakerOrderId <== eStepMakerOrderId[e];
        match[e].stepMakerSlot <== eStepMakerSlot[e];
        match[e].stepLeafRef <== eStepLeafRef[e];
        match[e].stepLeafNextPtr <== eStepLeafNextPtr[e];
        match[e].stepLeafNextRank <== eStepLeafNextRank[e];
        match[e].stepSiblings <== eStepSiblings[e];
        match[e].makerSlotOrderId <== eMakerSlotOrderId[e];
        match[e].makerSlotOrderHash <== eMakerSlotOrderHash[e];
        match[e].makerSlotFilled <== eMakerSlotFilled[e];
        match[e].makerSlotSeq <== eMakerSlotSeq[e];
        match[e].makerSlotSiblings <== eMakerSlotSiblings[e];
        match[e].makerMarket <== eMakerMarket[e];
        match[e].makerSide <== eMakerSide[e];
        match[e].makerPrice <== eMakerPrice[e];
        match[e].makerSize <== eMakerSize[e];
        match[e].makerExpiry <== eMakerExpiry[e];
        match[e].makerMaxFeePpm <== eMakerMaxFeePpm[e];
        match[e].makerTif <== eMakerTif[e];
        match[e].rest <== eRest[e];
        match[e].insAtHead <== eInsAtHead[e];
        match[e].insAllocNextFree <== eInsAllocNextFree[e];
        match[e].insAllocSiblings <== eInsAllocSiblings[e];
        match[e].insPredPtr <== eInsPredPtr[e];
        match[e].insPredRank <== eInsPredRank[e];
        match[e].insPredRef <== eInsPredRef[e];
        match[e].insPredNextPtr <== eInsPredNextPtr[e];
        match[e].insPredNextRank <== eInsPredNextRank[e];
        match[e].insPredSiblings <== eInsPredSiblings[e];
        coll[e + 1] <== match[e].collOut;
        pos[e + 1] <== match[e].posOut;
        ordersRoot[e + 1] <== match[e].ordersRootOut;
        sCap[e + 1] <== match[e].sideCapOut;
        sHeadPtr[e + 1] <== match[e].sideHeadPtrOut;
        sHeadRank[e + 1] <== match[e].sideHeadRankOut;
        sFreePtr[e + 1] <== match[e].sideFreePtrOut;
        sFrontier[e + 1] <== match[e].sideFrontierOut;
        // Check (11'): the entry's filled, written to its slot before its steps, is what
        // its steps filled (MessageEntry makes it 0 for anything but a valid order).
        entryFilled[e] === match[e].filled;
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
    root[0] <== accountsRoot;
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
        collFinalRange[k].in <== coll[E][k];

        leafAfter[k] = AccountLeaf(M);
        leafAfter[k].pubX <== keyX[P][k];
        leafAfter[k].pubY <== keyY[P][k];
        leafAfter[k].nonce <== nonce[E][k];
        leafAfter[k].collateral <== coll[E][k];
        leafAfter[k].posSize <== pos[E][k];
        leafAfter[k].posFunding <== fundingIndex;
        leafAfter[k].ordersRoot <== ordersRoot[E][k];
        // An opened empty leaf that no deposit opened (a message named an unknown account)
        // stays empty: past slots 0 and 1 (always written: the fee account and the
        // insurance fund may have no key), a leaf with key x = 0 after the deposits is the
        // empty leaf, since every other account's key is a prime-order point other than
        // the identity (DepositEntry's keyOk), the only points with x = 0 being the
        // identity and (0, -1).
        if (k < 2) {
            writes[k] <== accUsed[k];
        } else {
            accEmpty[k] = IsZero();
            accEmpty[k].in <== keyX[P][k];
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
    // Check (13b): the exits are the deposits' refunds, then the paid withdrawals, in order.
    exitMsg[E] === exitsHash;

    // Check (14): the new state root is over the last write's root and the books after
    // the last entry.
    component booksNew = BookRoot(M, CL);
    booksNew.cap <== sCap[E];
    booksNew.headPtr <== sHeadPtr[E];
    booksNew.headRank <== sHeadRank[E];
    booksNew.freePtr <== sFreePtr[E];
    booksNew.frontier <== sFrontier[E];
    component stateNew = PoseidonEx(2, 1);
    stateNew.initialState <== TAG_STATE();
    stateNew.inputs <== [root[K], booksNew.root];
    stateNew.out[0] === newRoot;
}
