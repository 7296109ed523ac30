pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/babyjub.circom";
include "Constants.circom";
include "OneHot.circom";
include "SelectOne.circom";

/// One slot of the batch's deposit queue (docs/flows.md, "Deposits"): the queue's chain
/// step, and the deposit credited to its account, opening it, or refunded as an exit.
///
/// Proves, for a used slot (`used = 1`), with `(x, y)` the deposit's key and `a` its amount:
///  (1) the chain: `chainAfter = Poseidon4(chainBefore, x, y, TAG_DEPOSIT * 2^248 +
///      index * 2^216 + a * 2^160 + depositor)` with a < 2^56 and depositor < 2^160, and
///      index < 2^32 by (2) (so the packing is one-to-one); `chainAfter = chainBefore`
///      when unused;
///  (2) the account: `slot` selects a used account slot holding `index`;
///  (3) the key: `(x, y) = 8 * Q + T_i` for the hint Q on the curve and the hint i selecting
///      one of the eight points of order dividing 8 (TORSION, prover/exchange/flows.py);
///      that decomposition is unique in T_i, and `keyOk = (i = 0) * (x != 0)`: the key is in
///      the prime-order subgroup and not the identity;
///  (4) the case, from the slot's running key (cx, cy) and collateral c (after funding and
///      the earlier deposits): `ok = (index > 1) * (c + a < 2^62) * (cx = 0 ? keyOk :
///      (cx, cy) = (x, y))`; when ok, c moves to c + a and an empty leaf (cx = 0) takes the
///      key; otherwise nothing moves and `(depositor, a)` is appended to the exits chain:
///      `exitsAfter = Poseidon3(exitsBefore, TAG_EXIT, a * 2^160 + depositor)`.
/// Nothing here can fail on a deposit the Rollup accepted (on the curve, 1 <= a < 2^56):
/// an unacceptable one is refunded.
///
/// @param  K                  account slots
/// @input  used               0 or 1 (checked)
/// @input  chainBefore, exitsBefore   the deposit queue's and the exit list's chains
/// @input  index, keyX, keyY, amount, depositor   the deposit (Deposited event)
/// @input  slot               the account slot of `index` (hint, pinned by (2))
/// @input  keyQx, keyQy, keyTorsion   the key's decomposition (hints, pinned by (3))
/// @input  accUsed[K], accIndex[K]   the batch's account slots
/// @input  keyXIn[K], keyYIn[K], collIn[K]   the slots' running keys and collateral
/// @output chainAfter, exitsAfter, keyXOut[K], keyYOut[K], collOut[K], ok
///
/// Assumptions: accUsed are bits, accIndex fit D <= 32 bits, collIn[k] are signed values
/// with |c| < 2^63 (range-checked by the caller); slot k = 0 and 1 hold the fee account and
/// the insurance fund; an unused slot carries the identity (0, 1) as its key.
/// Constraint count (circom --O2): K = 5: 944 (tests/circuits/test_deposit_entry.py).
template DepositEntry(K) {
    assert(K >= 2);
    signal input used;
    signal input chainBefore;
    signal input exitsBefore;
    signal input index;
    signal input keyX;
    signal input keyY;
    signal input amount;
    signal input depositor;
    signal input slot;
    signal input keyQx;
    signal input keyQy;
    signal input keyTorsion;
    signal input accUsed[K];
    signal input accIndex[K];
    signal input keyXIn[K];
    signal input keyYIn[K];
    signal input collIn[K];
    signal output chainAfter;
    signal output exitsAfter;
    signal output keyXOut[K];
    signal output keyYOut[K];
    signal output collOut[K];
    signal output ok;

    used * (used - 1) === 0;

    // Check (1): the queue's chain over the packed record (index < 2^32 when used: it is
    // the selected slot's accIndex, Check (2), which the caller range-checks to D bits).
    component amountBits = Num2Bits(56);
    amountBits.in <== amount;
    component depositorBits = Num2Bits(160);
    depositorBits.in <== depositor;
    component record = Poseidon(4);
    record.inputs <== [
        chainBefore, keyX, keyY,
        TAG_DEPOSIT() * (1 << 248) + index * (1 << 216) + amount * (1 << 160) + depositor
    ];
    chainAfter <== chainBefore + used * (record.out - chainBefore);

    // Check (2): the account slot.
    component sel = OneHot(K);
    sel.index <== slot;
    component selUsed = SelectOne(K);
    selUsed.sel <== sel.sel;
    selUsed.values <== accUsed;
    used * (1 - selUsed.out) === 0;
    component selIndex = SelectOne(K);
    selIndex.sel <== sel.sel;
    selIndex.values <== accIndex;
    used * (selIndex.out - index) === 0;

    // Check (3): key = 8 * Q + T_i.
    var TORSION[8][2] = [
        [0, 1],
        [4342719913949491028786768530115087822524712248835451589697801404893164183326,
         4826523245007015323400664741523384119579596407052839571721035538011798951543],
        [18930368022820495955728484915491405972470733850014661777449844430438130630919, 0],
        [4342719913949491028786768530115087822524712248835451589697801404893164183326,
         17061719626832259898845741003733890968968767993363194771977168648564009544074],
        [0, 21888242871839275222246405745257275088548364400416034343698204186575808495616],
        [17545522957889784193459637215142187266023652151580582754000402781682644312291,
         17061719626832259898845741003733890968968767993363194771977168648564009544074],
        [2957874849018779266517920829765869116077630550401372566248359756137677864698, 0],
        [17545522957889784193459637215142187266023652151580582754000402781682644312291,
         4826523245007015323400664741523384119579596407052839571721035538011798951543]
    ];
    component qOnCurve = BabyCheck();
    qOnCurve.x <== keyQx;
    qOnCurve.y <== keyQy;
    component dbl[3];
    dbl[0] = BabyDbl();
    dbl[0].x <== keyQx;
    dbl[0].y <== keyQy;
    for (var i = 1; i < 3; i++) {
        dbl[i] = BabyDbl();
        dbl[i].x <== dbl[i - 1].xout;
        dbl[i].y <== dbl[i - 1].yout;
    }
    component torsionSel = OneHot(8);
    torsionSel.index <== keyTorsion;
    var tx = 0;
    var ty = 0;
    for (var i = 0; i < 8; i++) {
        tx += torsionSel.sel[i] * TORSION[i][0];
        ty += torsionSel.sel[i] * TORSION[i][1];
    }
    component sum = BabyAdd();
    sum.x1 <== dbl[2].xout;
    sum.y1 <== dbl[2].yout;
    sum.x2 <== tx;
    sum.y2 <== ty;
    sum.xout === keyX;
    sum.yout === keyY;
    component keyXZero = IsZero();
    keyXZero.in <== keyX;
    signal keyOk <== torsionSel.sel[0] * (1 - keyXZero.out);

    // Check (4): the case.
    component cx = SelectOne(K);
    cx.sel <== sel.sel;
    cx.values <== keyXIn;
    component cy = SelectOne(K);
    cy.sel <== sel.sel;
    cy.values <== keyYIn;
    component cc = SelectOne(K);
    cc.sel <== sel.sel;
    cc.values <== collIn;
    component empty = IsZero();
    empty.in <== cx.out;
    component sameX = IsEqual();
    sameX.in <== [cx.out, keyX];
    component sameY = IsEqual();
    sameY.in <== [cy.out, keyY];
    signal sameKey <== sameX.out * sameY.out;
    // index in {0, 1} (the fee account, the insurance fund) iff index * (index - 1) = 0,
    // for index < 2^32.
    component special = IsZero();
    special.in <== index * (index - 1);
    // c + a < 2^62, half the collateral range: a deposit leaves headroom for the funding an
    // account may receive later (phase 2 asserts |C| < 2^63 after funding; docs/flows.md).
    // With |c| < 2^63 and a < 2^56, c + a + 2^63 is in [0, 2^65).
    component fits = LessThan(65);
    fits.in <== [cc.out + amount + (1 << 63), (1 << 63) + (1 << 62)];
    signal acceptNew <== empty.out * keyOk;
    signal acceptOld <== (1 - empty.out) * sameKey;
    signal accept <== acceptNew + acceptOld;
    signal okUsed <== used * (1 - special.out);
    signal okFits <== okUsed * fits.out;
    ok <== okFits * accept;
    signal create <== ok * empty.out;
    signal credit <== ok * amount;
    signal newX <== create * (keyX - cx.out);
    signal newY <== create * (keyY - cy.out);
    for (var k = 0; k < K; k++) {
        keyXOut[k] <== keyXIn[k] + sel.sel[k] * newX;
        keyYOut[k] <== keyYIn[k] + sel.sel[k] * newY;
        collOut[k] <== collIn[k] + sel.sel[k] * credit;
    }

    // The refund: an exit of the whole amount to the depositor.
    signal refund <== used - ok;
    component exitHash = Poseidon(3);
    exitHash.inputs <== [exitsBefore, TAG_EXIT(), amount * (1 << 160) + depositor];
    exitsAfter <== exitsBefore + refund * (exitHash.out - exitsBefore);
}
