pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/comparators.circom";
include "Constants.circom";
include "MarginBit.circom";

/// One withdrawal message, on its account as the batch holds it when the message is
/// processed (docs/flows.md, "Withdrawals"): the nonce it uses, whether it is paid, the
/// debit and the exit.
///
/// Proves, with `a` the amount and `r` the recipient:
///  (1) `consumed = enabled * sigOk`: a withdrawal message naming an account (enabled) whose
///      key signed `H_WITHDRAW(account, a, r, nonce)` at the leaf's nonce (sigOk, from
///      MessageEntry) uses that nonce up, paid or not;
///  (2) `paid = consumed * (a != 0) * (r != 0) * legal`, legal from MarginBit with the
///      positions unchanged and `C' = C - a`: `|C'| < 2^63` and `V' * 10^4 >= IR` (with the
///      positions unchanged MR' = MR, so MarginBit's reducing branch never applies);
///  (3) `debit = paid * a`, and `exitsAfter = Poseidon3(exitsBefore, TAG_EXIT, a * 2^160 + r)`
///      when paid, else `exitsBefore`.
/// Nothing here can fail on a message's content: a withdrawal that may not be paid only
/// makes `paid` zero.
///
/// @param  M                  markets
/// @input  enabled            0 or 1: a decodable withdrawal naming an account the batch
///                            opened, not the insurance fund (the caller's)
/// @input  sigOk              0 or 1: its signature (MessageEntry's)
/// @input  amount, recipient  from InboxMessage (56 and 160 bits, from its bit decomposition)
/// @input  coll, pos[M]       the account as the message finds it (funding, deposits and
///                            the earlier entries applied): |C| < 2^63, |P_m| < 2^40
/// @input  mark[M], imrBps[M], mmrBps[M]   the batch's marks and margin ratios
/// @input  exitsBefore        the exits' chain before this message
/// @output consumed, paid, debit, exitsAfter
///
/// Assumptions: as stated for the inputs; marks and ratios range-checked by BatchParams.
/// Constraint count (circom --O2): M = 2: 1,079 (tests/circuits/test_withdraw_entry.py).
template WithdrawEntry(M) {
    assert(M >= 1 && M <= MAX_MARKETS());
    signal input enabled;
    signal input sigOk;
    signal input amount;
    signal input recipient;
    signal input coll;
    signal input pos[M];
    signal input mark[M];
    signal input imrBps[M];
    signal input mmrBps[M];
    signal input exitsBefore;
    signal output consumed;
    signal output paid;
    signal output debit;
    signal output exitsAfter;

    // Check (1): the nonce is used.
    consumed <== enabled * sigOk;

    // Check (2): paid.
    component amountZero = IsZero();
    amountZero.in <== amount;
    component recipientZero = IsZero();
    recipientZero.in <== recipient;
    component margin = MarginBit(M);
    margin.collBefore <== coll;
    margin.posBefore <== pos;
    margin.collAfter <== coll - amount;
    margin.posAfter <== pos;
    margin.mark <== mark;
    margin.imrBps <== imrBps;
    margin.mmrBps <== mmrBps;
    signal p1 <== consumed * (1 - amountZero.out);
    signal p2 <== p1 * (1 - recipientZero.out);
    paid <== p2 * margin.legal;

    // Check (3): the debit and the exit.
    debit <== paid * amount;
    component exitHash = Poseidon(3);
    exitHash.inputs <== [exitsBefore, TAG_EXIT(), amount * (1 << 160) + recipient];
    exitsAfter <== exitsBefore + paid * (exitHash.out - exitsBefore);
}
