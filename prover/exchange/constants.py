"""Protocol constants shared with the circuits (docs/protocol.md, sections 1 and 2).

``circuits/lib/Constants.circom`` mirrors these values; a test keeps the two in step.
"""

from __future__ import annotations

from typing import Final

# Domain-separation tags: the capacity element (initial state) of Poseidon.
TAG_NODE: Final = 1
TAG_ACCOUNT: Final = 2
TAG_POSITIONS: Final = 3
TAG_ORDER: Final = 4
TAG_SLOT: Final = 5
TAG_CANCEL: Final = 6
TAG_MESSAGE: Final = 7
TAG_PARAMS: Final = 8
TAG_MARKET: Final = 9
# The Rollup's configuration hash puts its tags first among the inputs (its on-chain
# Poseidon has a zero capacity): prover/exchange/venue.py, docs/settlement.md.
TAG_CONFIG: Final = 10
TAG_CONFIG_MARKET: Final = 11
#: The operator's inbox key inside configHash (first Poseidon input, as the other config tags).
TAG_CONFIG_OPERATOR: Final = 13
TAG_OPERATOR_KEY: Final = 14
TAG_PRICES: Final = 12
#: The committed order book (docs/book.md): a side's leaf, and a side's header.
TAG_BOOK_LEAF: Final = 15
TAG_BOOK: Final = 16
#: Every book side of the venue; the state root over the accounts and the books.
TAG_BOOKS: Final = 17
TAG_STATE: Final = 18
#: The deposit queue's packed record and a batch's exit list (prover/exchange/flows.py).
TAG_DEPOSIT: Final = 19
TAG_EXIT: Final = 20
#: A withdrawal's signed hash (capacity element, as TAG_CANCEL).
TAG_WITHDRAW: Final = 21

# Tree arity and limits.
ARITY: Final = 4
MIN_ACCOUNT_BITS: Final = 2
MAX_ACCOUNT_BITS: Final = 32
MIN_SLOT_BITS: Final = 2
MAX_SLOT_BITS: Final = 16
MAX_MARKETS: Final = 8

# Special accounts.
FEE_ACCOUNT: Final = 0
INSURANCE_ACCOUNT: Final = 1

# Ranges (bits); signed quantities are |x| < 2^BITS.
PRICE_BITS: Final = 40
SIZE_BITS: Final = 32
POSITION_BITS: Final = 40
COLLATERAL_BITS: Final = 63
FUNDING_BITS: Final = 63
ORDER_ID_BITS: Final = 64
TIME_BITS: Final = 40
FUNDING_CAP_BITS: Final = 64
FUNDING_RATE_SCALE: Final = 1_000_000_000

FEE_SCALE: Final = 1_000_000
MARGIN_SCALE: Final = 10_000
SEQ_ENTRY_BITS: Final = 16

# Order fields.
SIDE_BUY: Final = 0
SIDE_SELL: Final = 1
TIF_GTC: Final = 0
TIF_IOC: Final = 1
TIF_POST_ONLY: Final = 2
