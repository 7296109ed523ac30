pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";
include "InboxChainStep.circom";
include "CofactorEcdh.circom";
include "PoseidonDecrypt3.circom";
include "PointFromY.circom";

/// One inbox message, opened by the operator (docs/inbox.md): the chain step, the key
/// exchange, the decryption and the parsing of the plaintext, before any look at the state.
///
/// Proves:
///  (1) `chainAfter` is `chainBefore` extended by the message (InboxChainStep) when
///      `used = 1`, and equals `chainBefore` when `used = 0` (a padding slot);
///  (2) `shared = s * (8 * E)` (CofactorEcdh; `E` on the curve with x below 2^252);
///  (3) `plain = Decrypt(shared, c)` and `authOk` (PoseidonDecrypt3);
///  (4) `plain[0]` decomposes exactly into 254 bits; `fits = 1` iff bits 235..253 are 0;
///      the fields are read from bits 0..234 (layout: prover/exchange/inbox.py FIELDS);
///  (5) `R8 = (r8x, plain[1])` is the curve point whose x is below 2^252 (PointFromY;
///      `r8Ok = 0` if none);
///  (6) `decodable = used * authOk * fits`;
///  (7) `wdDecodable = used * authOk * wdFits`, `wdFits = 1` iff bits 0 and 252 are 1 and
///      bits 249..251 and 253 are 0 (a withdrawal, docs/flows.md), with `amount` (bits
///      33..88) and `recipient` (bits 89..248); never both decodable and wdDecodable.
/// Nothing here can fail on a message's content: a bad message only makes `decodable` or
/// `r8Ok` zero, and each of those is a function of the chain-bound data.
///
/// @input  used               0 or 1 (checked): the slot holds a message of the batch
/// @input  chainBefore        the inbox chain before it
/// @input  secretBits[253]    the operator's secret scalar (range-checked by the caller)
/// @input  ephX, ephY, c[4]   the message (ephX the prover's hint, pinned by CofactorEcdh)
/// @output chainAfter, decodable, kind, account, accountBits[32], market, side, price,
///         size, orderId, orderIdBits[64], expiry, maxFeePpm, tif, tifBits[2], r8x, r8y,
///         r8Ok, sigS, wdDecodable, amount, recipient
///
/// Assumptions: a padding slot (`used = 0`) carries a valid ephemeral key with x below
/// 2^252 (the builder pads with BASE8 and a zero ciphertext), since CofactorEcdh always
/// holds.
/// Constraint count (circom --O2): 4,447 (tests/circuits/test_inbox_message.py asserts it).
template InboxMessage() {
    signal input used;
    signal input chainBefore;
    signal input secretBits[253];
    signal input ephX;
    signal input ephY;
    signal input c[4];
    signal output chainAfter;
    signal output decodable;
    signal output kind;
    signal output account;
    signal output accountBits[32];
    signal output market;
    signal output side;
    signal output price;
    signal output size;
    signal output orderId;
    signal output orderIdBits[64];
    signal output expiry;
    signal output maxFeePpm;
    signal output tif;
    signal output tifBits[2];
    signal output r8x;
    signal output r8y;
    signal output r8Ok;
    signal output sigS;
    signal output wdDecodable;
    signal output amount;
    signal output recipient;

    used * (used - 1) === 0;

    // Check (1): the chain.
    component step = InboxChainStep();
    step.chain <== chainBefore;
    step.ephY <== ephY;
    step.c <== c;
    chainAfter <== chainBefore + used * (step.next - chainBefore);

    // Check (2): the shared key.
    component ecdh = CofactorEcdh();
    ecdh.secretBits <== secretBits;
    ecdh.ephX <== ephX;
    ecdh.ephY <== ephY;

    // Check (3): decryption and authentication.
    component dec = PoseidonDecrypt3();
    dec.key <== ecdh.shared;
    dec.c <== c;

    // Check (4): the packed fields.
    component bits = Num2Bits_strict();
    bits.in <== dec.plain[0];
    var high = 0;
    for (var i = 235; i < 254; i++) {
        high += bits.out[i];
    }
    component highZero = IsZero();
    highZero.in <== high;

    var f[10][2] = [[0, 1], [1, 32], [33, 3], [36, 1], [37, 40], [77, 32], [109, 64],
                    [173, 40], [213, 20], [233, 2]];
    var value[10];
    for (var k = 0; k < 10; k++) {
        value[k] = 0;
        for (var i = 0; i < f[k][1]; i++) {
            value[k] += bits.out[f[k][0] + i] * (1 << i);
        }
    }
    kind <== value[0];
    account <== value[1];
    for (var i = 0; i < 32; i++) {
        accountBits[i] <== bits.out[1 + i];
    }
    market <== value[2];
    side <== value[3];
    price <== value[4];
    size <== value[5];
    orderId <== value[6];
    for (var i = 0; i < 64; i++) {
        orderIdBits[i] <== bits.out[109 + i];
    }
    expiry <== value[7];
    maxFeePpm <== value[8];
    tif <== value[9];
    tifBits[0] <== bits.out[233];
    tifBits[1] <== bits.out[234];

    // Check (5): R8 from its y (its x the root below 2^252).
    component r8 = PointFromY();
    r8.y <== dec.plain[1];
    r8x <== r8.x;
    r8y <== dec.plain[1];
    r8Ok <== r8.ok;
    sigS <== dec.plain[2];

    // Check (6).
    signal authUsed <== used * dec.authOk;
    decodable <== authUsed * highZero.out;

    // Check (7): the withdrawal layout (prover/exchange/flows.py): bit 0 and bit 252 set,
    // bits 249..251 and 253 zero; the amount is bits 33..88, the recipient bits 89..248
    // (the account is bits 1..32, as above). Bit 252 is zero in an order or a cancel
    // (bits 235..253 are), so at most one of decodable and wdDecodable is 1.
    var wdAmount = 0;
    for (var i = 0; i < 56; i++) {
        wdAmount += bits.out[33 + i] * (1 << i);
    }
    amount <== wdAmount;
    var wdRecipient = 0;
    for (var i = 0; i < 160; i++) {
        wdRecipient += bits.out[89 + i] * (1 << i);
    }
    recipient <== wdRecipient;
    component wdHighZero = IsZero();
    wdHighZero.in <== bits.out[249] + bits.out[250] + bits.out[251] + bits.out[253];
    signal wdFlags <== bits.out[252] * bits.out[0];
    signal wdFits <== wdFlags * wdHighZero.out;
    wdDecodable <== authUsed * wdFits;
}
