"""The order book committed in the state: one sorted linked list per market side
(docs/book.md).

Each side is a quaternary Poseidon tree of ``2^BOOK_BITS`` leaves. A leaf is either
*live*, an order resting in the book,

    H_BOOK_LEAF(rank, ref, nextPtr, nextRank)        rank != 0

or *free*, ``H_BOOK_LEAF(0, 0, nextFree, 0)``; a leaf never written is the free leaf
``FREE(0)``. Pointers are ``index + 1``; ``0`` is null. The live leaves form one list in
ascending ``rank`` (best first) from the header's ``headPtr``; every live leaf stores the
rank of its successor, so the header's ``headRank`` and a leaf's ``nextRank`` say, without
opening another leaf, whether the next order crosses. Freed leaves form a stack from
``freePtr``; ``frontier`` counts the leaves ever used (each leaf at or past it is
``FREE(0)``), so a new order takes the top of the free stack, or the frontier leaf when the
stack is empty.

``rank`` orders the side by price, then by arrival (``seq = n * 2^16 + e``), smaller first:

    ask: rank = price * 2^56 + seq          bid: rank = (2^40 - price) * 2^56 + seq

so every rank lies in ``[2^56, 2^96)`` and two orders never share one. An order's ``ref``
is ``account * 2^64 + orderId``.

The circuit keeps the top ``BOOK_CAP_LEVELS`` levels of each tree as a *cap* of
``4^BOOK_CAP_LEVELS`` subtree roots (hashed once per batch, not once per write), so a
write costs ``BOOK_BITS / 2 - BOOK_CAP_LEVELS`` levels. The three operations the batch
proves are here with their witnesses: :meth:`BookSide.pop` (a fill that takes, or
removes, the head), :meth:`BookSide.touch` (a partial fill: the head stays) and
:meth:`BookSide.insert` (a resting order at its place).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prover.crypto import poseidon
from prover.errors import ProtocolError
from prover.exchange.constants import (
    ORDER_ID_BITS,
    PRICE_BITS,
    SIDE_BUY,
    SIDE_SELL,
    TAG_BOOK,
    TAG_BOOK_LEAF,
    TAG_BOOKS,
    TAG_STATE,
)
from prover.exchange.domain import SEQ_BITS
from prover.merkle import QuadTree, hash_node

#: Leaves per market side: ``2^BOOK_BITS``.
BOOK_BITS = 16
#: Top levels of a side's tree held as its cap (``4^BOOK_CAP_LEVELS`` subtree roots).
BOOK_CAP_LEVELS = 2
#: Every rank is below ``2^RANK_BITS``; the crossing limit below ``2^(RANK_BITS + 1)``.
RANK_BITS = PRICE_BITS + SEQ_BITS
NULL = 0


def order_rank(side: int, price: int, seq: int) -> int:
    """The book key of an order: smaller is better (price first, then arrival)."""
    if side not in (SIDE_BUY, SIDE_SELL):
        raise ProtocolError(f"side must be 0 or 1, got {side!r}")
    if not 0 < price < (1 << PRICE_BITS):
        raise ProtocolError(f"price {price} is outside [1, 2^{PRICE_BITS})")
    if not 0 <= seq < (1 << SEQ_BITS):
        raise ProtocolError(f"seq {seq} does not fit {SEQ_BITS} bits")
    key = price if side == SIDE_SELL else (1 << PRICE_BITS) - price
    return (key << SEQ_BITS) + seq


def crossing_limit(taker_side: int, taker_price: int) -> int:
    """A resting order of the other side crosses a taker iff its rank is below this."""
    if taker_side == SIDE_BUY:  # asks at or below the taker's price
        return (taker_price + 1) << SEQ_BITS
    return ((1 << PRICE_BITS) - taker_price + 1) << SEQ_BITS  # bids at or above it


def rank_price(side: int, rank: int) -> int:
    """The price a rank encodes."""
    key = rank >> SEQ_BITS
    return key if side == SIDE_SELL else (1 << PRICE_BITS) - key


def book_ref(account: int, order_id: int) -> int:
    """``ref = account * 2^64 + orderId``: which order a leaf holds."""
    if not 0 <= order_id < (1 << ORDER_ID_BITS) or account < 0:
        raise ProtocolError(f"bad order reference ({account}, {order_id})")
    return (account << ORDER_ID_BITS) + order_id


def ref_parts(ref: int) -> tuple[int, int]:
    """``(account, orderId)`` of a ref."""
    return ref >> ORDER_ID_BITS, ref & ((1 << ORDER_ID_BITS) - 1)


@dataclass(frozen=True, slots=True)
class BookLeaf:
    """One leaf of a side's tree (live when ``rank != 0``, else free)."""

    rank: int = 0
    ref: int = 0
    next_ptr: int = NULL
    next_rank: int = 0

    @property
    def live(self) -> bool:
        return self.rank != 0

    def hash(self) -> int:
        return poseidon(
            [self.rank, self.ref, self.next_ptr, self.next_rank], init_state=TAG_BOOK_LEAF
        )


def free_leaf(next_free: int) -> BookLeaf:
    """A freed leaf on the free stack, pointing at the next free one (0: the last)."""
    return BookLeaf(0, 0, next_free, 0)


FREE_LEAF_HASH = free_leaf(NULL).hash()


@dataclass(frozen=True, slots=True)
class BookHeader:
    """What the state holds of one side: the cap and the list and allocation pointers."""

    cap: tuple[int, ...]
    head_ptr: int
    head_rank: int
    free_ptr: int
    frontier: int

    @property
    def tree_root(self) -> int:
        """The side's tree root, folded from the cap (``cap_levels`` levels)."""
        nodes = list(self.cap)
        while len(nodes) > 1:
            nodes = [hash_node(nodes[i : i + 4]) for i in range(0, len(nodes), 4)]
        return nodes[0]

    def hash(self) -> int:
        """``H_BOOK(treeRoot, headPtr, headRank, freePtr, frontier)``."""
        return poseidon(
            [self.tree_root, self.head_ptr, self.head_rank, self.free_ptr, self.frontier],
            init_state=TAG_BOOK,
        )

    def circuit_inputs(self, prefix: str = "", frontier: bool = True) -> dict[str, object]:
        """The header as inputs (BookPop takes no ``frontier``: a pop never moves it)."""
        out: dict[str, object] = {
            f"{prefix}cap": [str(c) for c in self.cap],
            f"{prefix}headPtr": str(self.head_ptr),
            f"{prefix}headRank": str(self.head_rank),
            f"{prefix}freePtr": str(self.free_ptr),
        }
        if frontier:
            out[f"{prefix}frontier"] = str(self.frontier)
        return out


def _siblings_json(siblings: tuple[tuple[int, int, int], ...]) -> list[list[str]]:
    return [[str(s) for s in level] for level in siblings]


@dataclass(frozen=True, slots=True)
class PopStep:
    """A fill's step on the head: ``pop`` removes it, else it stays (a partial fill).

    ``leaf`` is the head leaf before the step and ``siblings`` its path below the cap.
    """

    before: BookHeader
    after: BookHeader
    pop: bool
    leaf: BookLeaf
    siblings: tuple[tuple[int, int, int], ...]

    def circuit_inputs(self) -> dict[str, object]:
        return {
            **self.before.circuit_inputs(frontier=False),
            "pop": "1" if self.pop else "0",
            "leafRef": str(self.leaf.ref),
            "leafNextPtr": str(self.leaf.next_ptr),
            "leafNextRank": str(self.leaf.next_rank),
            "siblings": _siblings_json(self.siblings),
        }


@dataclass(frozen=True, slots=True)
class InsertStep:
    """A resting order written at its place: allocation, then the predecessor's link.

    ``index`` is the leaf the order takes. ``pred_ptr`` is ``NULL`` when the order becomes
    the head; else ``pred`` is the predecessor leaf before the step (opened after the
    allocation write). At the head the circuit's second write is a no-op on the new leaf
    itself, so its inputs name that leaf (``predPtr = index + 1``).
    """

    before: BookHeader
    after: BookHeader
    rank: int
    ref: int
    index: int
    alloc_next_free: int
    alloc_siblings: tuple[tuple[int, int, int], ...]
    pred_ptr: int
    pred: BookLeaf
    pred_siblings: tuple[tuple[int, int, int], ...]

    @property
    def after_leaf(self) -> BookLeaf:
        """The order's leaf as written."""
        if self.pred_ptr == NULL:
            return BookLeaf(self.rank, self.ref, self.before.head_ptr, self.before.head_rank)
        return BookLeaf(self.rank, self.ref, self.pred.next_ptr, self.pred.next_rank)

    def circuit_inputs(self) -> dict[str, object]:
        at_head = self.pred_ptr == NULL
        pred = self.after_leaf if at_head else self.pred
        return {
            **self.before.circuit_inputs(),
            "rank": str(self.rank),
            "ref": str(self.ref),
            "allocNextFree": str(self.alloc_next_free),
            "allocSiblings": _siblings_json(self.alloc_siblings),
            "atHead": "1" if at_head else "0",
            "predPtr": str(self.index + 1 if at_head else self.pred_ptr),
            "predRank": str(pred.rank),
            "predRef": str(pred.ref),
            "predNextPtr": str(pred.next_ptr),
            "predNextRank": str(pred.next_rank),
            "predSiblings": _siblings_json(self.pred_siblings),
        }


class BookFullError(ProtocolError):
    """Every leaf of a side holds an order (a proven rule: the remainder is dropped)."""


class BookSide:
    """One market side of the committed book (model of what the circuit proves)."""

    def __init__(self, side: int, bits: int = BOOK_BITS, cap_levels: int = BOOK_CAP_LEVELS) -> None:
        if side not in (SIDE_BUY, SIDE_SELL):
            raise ProtocolError(f"side must be 0 or 1, got {side!r}")
        if bits % 2 or not 0 <= cap_levels < bits // 2:
            raise ProtocolError(f"a book of {bits} bits cannot keep a cap of {cap_levels} levels")
        self.side = side
        self.bits = bits
        self.cap_levels = cap_levels
        self.tree = QuadTree(bits, FREE_LEAF_HASH)
        self.leaves: dict[int, BookLeaf] = {}
        self.head_ptr = NULL
        self.head_rank = 0
        self.free_ptr = NULL
        self.frontier = 0
        # (rank, index) of every live leaf, ascending: the list, for finding a place.
        self._sorted: list[tuple[int, int]] = []

    def copy(self) -> BookSide:
        """An independent copy."""
        clone = BookSide.__new__(BookSide)
        clone.side, clone.bits, clone.cap_levels = self.side, self.bits, self.cap_levels
        clone.tree = self.tree.copy()
        clone.leaves = dict(self.leaves)
        clone.head_ptr, clone.head_rank = self.head_ptr, self.head_rank
        clone.free_ptr, clone.frontier = self.free_ptr, self.frontier
        clone._sorted = list(self._sorted)
        return clone

    # --- reading ------------------------------------------------------------------------

    @property
    def capacity(self) -> int:
        return 1 << self.bits

    @property
    def lower_levels(self) -> int:
        """Levels a write folds below the cap."""
        return self.bits // 2 - self.cap_levels

    def leaf(self, index: int) -> BookLeaf:
        return self.leaves.get(index, BookLeaf())

    def cap(self) -> tuple[int, ...]:
        level = self.lower_levels
        return tuple(self.tree.node(level, i) for i in range(4**self.cap_levels))

    def header(self) -> BookHeader:
        return BookHeader(self.cap(), self.head_ptr, self.head_rank, self.free_ptr, self.frontier)

    @property
    def full(self) -> bool:
        return self.free_ptr == NULL and self.frontier == self.capacity

    def __len__(self) -> int:
        return len(self._sorted)

    def walk(self) -> Iterator[tuple[int, BookLeaf]]:
        """``(index, leaf)`` of every live order from the head, by following the links."""
        ptr = self.head_ptr
        while ptr != NULL:
            leaf = self.leaf(ptr - 1)
            yield ptr - 1, leaf
            ptr = leaf.next_ptr

    def holds(self, ref: int) -> bool:
        """Whether a live leaf of this side holds ``ref`` (a scan of the live leaves)."""
        return any(self.leaves[i].ref == ref for _, i in self._sorted)

    def best(self) -> tuple[int, BookLeaf] | None:
        if self.head_ptr == NULL:
            return None
        return self.head_ptr - 1, self.leaf(self.head_ptr - 1)

    def _lower(self, index: int) -> tuple[tuple[int, int, int], ...]:
        return self.tree.prove(index).siblings[: self.lower_levels]

    def _write(self, index: int, leaf: BookLeaf) -> None:
        if leaf.live or leaf.next_ptr != NULL or index in self.leaves:
            self.leaves[index] = leaf
        self.tree.set(index, leaf.hash())

    # --- the proven operations -------------------------------------------------------------

    def touch(self) -> PopStep:
        """A fill that leaves the head in place (its maker keeps a remainder)."""
        best = self.best()
        if best is None:
            raise ProtocolError("the book side is empty: no order to fill")
        index, leaf = best
        header = self.header()
        return PopStep(header, header, False, leaf, self._lower(index))

    def pop(self) -> PopStep:
        """Remove the head (filled out, or removed by a proven rule); its leaf is freed."""
        best = self.best()
        if best is None:
            raise ProtocolError("the book side is empty: no order to remove")
        index, leaf = best
        before = self.header()
        siblings = self._lower(index)
        self._write(index, free_leaf(self.free_ptr))
        self.free_ptr = index + 1
        self.head_ptr, self.head_rank = leaf.next_ptr, leaf.next_rank
        del self._sorted[0]
        return PopStep(before, self.header(), True, leaf, siblings)

    def insert(self, rank: int, ref: int) -> InsertStep:
        """Write an order at its place in price-time order."""
        if not 0 < rank < (1 << RANK_BITS):
            raise ProtocolError(f"rank {rank} is outside (0, 2^{RANK_BITS})")
        if self.full:
            raise BookFullError(f"the book side holds {self.capacity} orders")
        position = bisect.bisect_left(self._sorted, (rank, -1))
        if position < len(self._sorted) and self._sorted[position][0] == rank:
            raise ProtocolError(f"rank {rank} is already in the book")
        pred_ptr = NULL if position == 0 else self._sorted[position - 1][1] + 1
        return self._insert_at(rank, ref, pred_ptr, position)

    def _insert_at(self, rank: int, ref: int, pred_ptr: int, position: int) -> InsertStep:
        """Write the order after ``pred_ptr`` (``NULL``: as the head) without checking the
        place; :meth:`insert` finds the place (tests build misplaced insertions with it).
        ``position`` is where the order goes in the sorted index."""
        before = self.header()
        # Allocation: the top of the free stack, else the frontier leaf.
        if self.free_ptr != NULL:
            index = self.free_ptr - 1
            next_free = self.leaf(index).next_ptr
        else:
            index = self.frontier
            next_free = NULL
        alloc_siblings = self._lower(index)
        if pred_ptr == NULL:
            pred = BookLeaf()
            succ_ptr, succ_rank = self.head_ptr, self.head_rank
        else:
            pred = self.leaf(pred_ptr - 1)
            succ_ptr, succ_rank = pred.next_ptr, pred.next_rank
        self._write(index, BookLeaf(rank, ref, succ_ptr, succ_rank))
        if self.free_ptr != NULL:
            self.free_ptr = next_free
        else:
            self.frontier += 1
        if pred_ptr == NULL:
            self.head_ptr, self.head_rank = index + 1, rank
            # The circuit still folds a (no-op) second write: the new leaf's own path.
            pred_siblings = self._lower(index)
        else:
            pred_siblings = self._lower(pred_ptr - 1)
            self._write(pred_ptr - 1, BookLeaf(pred.rank, pred.ref, index + 1, rank))
        self._sorted.insert(position, (rank, index))
        return InsertStep(
            before,
            self.header(),
            rank,
            ref,
            index,
            next_free,
            alloc_siblings,
            pred_ptr,
            pred,
            pred_siblings,
        )


class Books:
    """Every market's two sides: side ``2 * m + s`` is market ``m``'s bids (``s = 0``)
    or asks (``s = 1``); their root is ``H_BOOKS(H_BOOK(side 0), ...)``
    (docs/book.md, "In the state"; the circuit's BookRoot)."""

    def __init__(
        self, num_markets: int, bits: int = BOOK_BITS, cap_levels: int = BOOK_CAP_LEVELS
    ) -> None:
        if not 1 <= num_markets <= 8:
            raise ProtocolError(f"1 to 8 markets, not {num_markets}")
        self.sides = [
            BookSide(side, bits, cap_levels)
            for _ in range(num_markets)
            for side in (SIDE_BUY, SIDE_SELL)
        ]

    @property
    def num_markets(self) -> int:
        return len(self.sides) // 2

    def side(self, market: int, side: int) -> BookSide:
        if not 0 <= market < self.num_markets or side not in (SIDE_BUY, SIDE_SELL):
            raise ProtocolError(f"no book side ({market}, {side})")
        return self.sides[2 * market + side]

    def headers(self) -> list[BookHeader]:
        return [side.header() for side in self.sides]

    @property
    def root(self) -> int:
        return poseidon([h.hash() for h in self.headers()], init_state=TAG_BOOKS)

    def copy(self) -> Books:
        clone = Books.__new__(Books)
        clone.sides = [side.copy() for side in self.sides]
        return clone

    @property
    def bits(self) -> int:
        return self.sides[0].bits

    @property
    def cap_levels(self) -> int:
        return self.sides[0].cap_levels

    def to_json(self) -> dict[str, Any]:
        """Every side's leaves and pointers (the tree is rebuilt from them on load)."""
        return {
            "bits": self.bits,
            "cap_levels": self.cap_levels,
            "sides": [
                {
                    "head_ptr": side.head_ptr,
                    "head_rank": str(side.head_rank),
                    "free_ptr": side.free_ptr,
                    "frontier": side.frontier,
                    "leaves": [
                        [i, str(leaf.rank), str(leaf.ref), leaf.next_ptr, str(leaf.next_rank)]
                        for i, leaf in sorted(side.leaves.items())
                    ],
                }
                for side in self.sides
            ],
            "root": str(self.root),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Books:
        """The books :meth:`to_json` wrote; :class:`ProtocolError` when the saved root
        does not match the leaves (a damaged file)."""
        try:
            sides = data["sides"]
            if not isinstance(sides, list) or len(sides) % 2:
                raise ProtocolError("books: 'sides' must be a list of 2 per market")
            books = cls(len(sides) // 2, int(data["bits"]), int(data["cap_levels"]))
            for side, raw in zip(books.sides, sides, strict=True):
                for i, rank, ref, next_ptr, next_rank in raw["leaves"]:
                    leaf = BookLeaf(int(rank), int(ref), int(next_ptr), int(next_rank))
                    side._write(int(i), leaf)
                side.head_ptr, side.head_rank = int(raw["head_ptr"]), int(raw["head_rank"])
                side.free_ptr, side.frontier = int(raw["free_ptr"]), int(raw["frontier"])
                side._sorted = sorted(
                    (leaf.rank, i) for i, leaf in side.leaves.items() if leaf.live
                )
            root = int(data["root"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"books: malformed saved books ({exc})") from exc
        if books.root != root:
            raise ProtocolError("books: the saved root does not match the saved leaves")
        return books

    def circuit_inputs(self, prefix: str = "") -> dict[str, object]:
        """The sides as BookRoot's (and BookSideSelect's) inputs."""
        headers = self.headers()
        return {
            f"{prefix}cap": [[str(c) for c in h.cap] for h in headers],
            f"{prefix}headPtr": [str(h.head_ptr) for h in headers],
            f"{prefix}headRank": [str(h.head_rank) for h in headers],
            f"{prefix}freePtr": [str(h.free_ptr) for h in headers],
            f"{prefix}frontier": [str(h.frontier) for h in headers],
        }


def state_root(accounts_root: int, books_root: int) -> int:
    """``H_STATE(accountsRoot, booksRoot)``: the state root once the batch carries the
    book (docs/book.md, "In the state")."""
    return poseidon([accounts_root, books_root], init_state=TAG_STATE)
