pragma circom 2.1.0;

/// Protocol constants (docs/protocol.md, sections 1 and 2), as functions so that
/// any template can use them without a component. `prover/exchange/constants.py`
/// holds the same values; tests/circuits/test_constants.py keeps the two in step.
///
/// Tags are the capacity element (`initialState`) of `PoseidonEx(n, 1)`:
/// `H_tag(x) = PoseidonEx(n, 1)(inputs = x, initialState = tag)`.
/// Range widths are in bits; a signed quantity `v` satisfies `|v| < 2^bits`.
/// Constraint count: 0 (functions only).

// Domain-separation tags (protocol section 1).
function TAG_NODE() { return 1; }
function TAG_ACCOUNT() { return 2; }
function TAG_POSITIONS() { return 3; }
function TAG_ORDER() { return 4; }
function TAG_SLOT() { return 5; }
function TAG_CANCEL() { return 6; }
function TAG_MESSAGE() { return 7; }
function TAG_PARAMS() { return 8; }
function TAG_MARKET() { return 9; }
// Tags of the Rollup's configuration hash: the first Poseidon *input* (the contract's
// Poseidon has a zero capacity; docs/settlement.md).
function TAG_CONFIG() { return 10; }
function TAG_CONFIG_MARKET() { return 11; }
// The price feed's signed message (a capacity tag, as the others).
function TAG_PRICES() { return 12; }
// The operator's key inside configHash (first Poseidon input, as the other config tags).
function TAG_CONFIG_OPERATOR() { return 13; }
function TAG_OPERATOR_KEY() { return 14; }
// The committed order book (docs/book.md): a side's leaf, and a side's header.
function TAG_BOOK_LEAF() { return 15; }
function TAG_BOOK() { return 16; }
function TAG_BOOKS() { return 17; }
function TAG_STATE() { return 18; }
/// The deposit queue's packed record and a batch's exit list (prover/exchange/flows.py).
function TAG_DEPOSIT() { return 19; }
function TAG_EXIT() { return 20; }
/// A withdrawal's signed hash (initial state, as TAG_CANCEL).
function TAG_WITHDRAW() { return 21; }

// Tree shape (protocol section 3).
function ARITY() { return 4; }
function MIN_ACCOUNT_BITS() { return 2; }
function MAX_ACCOUNT_BITS() { return 32; }
function MIN_SLOT_BITS() { return 2; }
function MAX_SLOT_BITS() { return 16; }
function MAX_MARKETS() { return 8; }

// Special accounts (protocol section 3).
function FEE_ACCOUNT() { return 0; }
function INSURANCE_ACCOUNT() { return 1; }

// Ranges in bits (protocol section 2).
function PRICE_BITS() { return 40; }
function SIZE_BITS() { return 32; }
function POSITION_BITS() { return 40; }
function COLLATERAL_BITS() { return 63; }
function FUNDING_BITS() { return 63; }
function ORDER_ID_BITS() { return 64; }
function TIME_BITS() { return 40; }
function FUNDING_CAP_BITS() { return 64; }
function FUNDING_RATE_SCALE() { return 1000000000; }
function SEQ_ENTRY_BITS() { return 16; }

// Scales (protocol section 2).
function FEE_SCALE() { return 1000000; }
function MARGIN_SCALE() { return 10000; }
// Bits that hold FEE_SCALE (10^6 < 2^20) and MARGIN_SCALE (10^4 < 2^14).
function FEE_SCALE_BITS() { return 20; }
function MARGIN_SCALE_BITS() { return 14; }

// Order fields (protocol section 5).
function SIDE_BUY() { return 0; }
function SIDE_SELL() { return 1; }
function TIF_GTC() { return 0; }
function TIF_IOC() { return 1; }
function TIF_POST_ONLY() { return 2; }
