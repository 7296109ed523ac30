"""The exchange state: the account tree and each account's order-slot tree (protocol §3, §4).

- **Account tree**: a :class:`QuadTree` of ``D`` bits whose empty leaf is the leaf of
  the all-zero account (pubkey ``(0, 0)``, nonce 0, ``C = 0``, zero positions, the
  empty order-slot root), so an absent account needs no special case (§3).
- **Order-slot trees**: one :class:`QuadTree` of ``S`` bits per account, empty leaf
  ``H_SLOT(0, 0, 0, 0)``. The state also keeps each slot's fields and, for an open
  slot, the body of the order in it, so the engine can look orders up.
- Accounts 0 (fee account) and 1 (insurance fund) exist from construction.

Whether an account *exists* is kept explicitly (an account may legitimately hash
to the empty leaf, e.g. a fee account with no key and no collateral); the root
depends on contents only.

Every write rehashes only its path. :meth:`ExchangeState.copy` is copy-on-write:
the copy shares the trees with the original and whichever of the two writes first
to an account's structures clones just those, so a copy per batch is cheap.
"""

from __future__ import annotations

import copy as _copy
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from typing import Any

from prover.crypto import eddsa
from prover.errors import ProtocolError
from prover.exchange.booktree import Books, state_root
from prover.exchange.constants import (
    FEE_ACCOUNT,
    INSURANCE_ACCOUNT,
    MAX_ACCOUNT_BITS,
    MAX_SLOT_BITS,
    MIN_ACCOUNT_BITS,
    MIN_SLOT_BITS,
    TIME_BITS,
)
from prover.exchange.domain import (
    EMPTY_SLOT,
    ZERO_PUBKEY,
    Account,
    Market,
    Order,
    OrderRejected,
    OrderSlot,
    PubKey,
    Reject,
    check_markets,
    parse_int,
    pubkey_of,
)
from prover.exchange.venue import VenueConfig
from prover.field import SNARK_FIELD
from prover.merkle import MerkleProof, QuadTree


@cache
def _empty_slot_tree(slot_bits: int) -> QuadTree:
    """A pristine empty order-slot tree, cloned for each account (never written)."""
    return QuadTree(slot_bits, EMPTY_SLOT.hash())


def empty_orders_root(slot_bits: int) -> int:
    """Root of an empty order-slot tree of ``slot_bits`` bits."""
    return _empty_slot_tree(slot_bits).root


def empty_account_leaf(num_markets: int, slot_bits: int) -> int:
    """The leaf of the all-zero account: the empty leaf of the account tree (§3)."""
    return _empty_account_leaf(num_markets, slot_bits)


@cache
def _empty_account_leaf(num_markets: int, slot_bits: int) -> int:
    return Account.zero(num_markets).hash(empty_orders_root(slot_bits))


class ExchangeState:
    """Accounts, positions and order slots, with their Merkle commitments.

    ``markets`` are the markets ``0..M-1``; ``account_bits`` is ``D`` (even, 2..32),
    ``slot_bits`` is ``S`` (even, 2..16). ``fee_pubkey`` and ``insurance_pubkey`` are
    the operator's keys for accounts 0 and 1 (default: the all-zero key, which no
    signature verifies under).
    """

    def __init__(
        self,
        markets: Sequence[Market],
        account_bits: int,
        slot_bits: int,
        *,
        fee_pubkey: Any = ZERO_PUBKEY,
        insurance_pubkey: Any = ZERO_PUBKEY,
        venue: VenueConfig | None = None,
        last_timestamp: int = 0,
        inbox_count: int = 0,
        inbox_chain: int = 0,
        books: Books | None = None,
    ) -> None:
        self.markets: tuple[Market, ...] = check_markets(markets)
        if books is not None and books.num_markets != len(self.markets):
            raise ProtocolError(
                f"{books.num_markets} markets of books for {len(self.markets)} markets"
            )
        #: The committed book (docs/book.md) when the venue matches by the rules: the
        #: state root is then ``H_STATE(accountsRoot, booksRoot)``; None for a venue whose
        #: batches take the operator's fills (the state root is the account root).
        self.books = books
        if venue is not None and venue.markets != self.markets:
            raise ProtocolError("the venue's registered markets are not the state's markets")
        #: The registered configuration (funding caps, price feed); a batch needs one.
        self.venue = venue
        if not isinstance(last_timestamp, int) or not 0 <= last_timestamp < 1 << TIME_BITS:
            raise ProtocolError(f"last_timestamp must be in [0, 2^40), got {last_timestamp!r}")
        #: The time of the last batch (the genesis time before the first).
        self.last_timestamp = last_timestamp
        if not isinstance(inbox_count, int) or not 0 <= inbox_count < 1 << 64:
            raise ProtocolError(f"inbox_count must be in [0, 2^64), got {inbox_count!r}")
        if not isinstance(inbox_chain, int) or not 0 <= inbox_chain < SNARK_FIELD:
            raise ProtocolError("inbox_chain must be a field element")
        #: Inbox messages consumed by the batches so far, and the inbox hash chain after
        #: them (docs/inbox.md): the next batch starts there.
        self.inbox_count = inbox_count
        self.inbox_chain = inbox_chain
        #: Deposits of the Rollup's queue consumed by the batches so far, and the queue's
        #: chain after them (docs/flows.md): the next batch's deposits start there.
        self.deposit_count = 0
        self.deposit_chain = 0
        if not (
            isinstance(account_bits, int)
            and MIN_ACCOUNT_BITS <= account_bits <= MAX_ACCOUNT_BITS
            and account_bits % 2 == 0
        ):
            raise ProtocolError(f"account_bits must be even in [2, 32], got {account_bits!r}")
        if not (
            isinstance(slot_bits, int)
            and MIN_SLOT_BITS <= slot_bits <= MAX_SLOT_BITS
            and slot_bits % 2 == 0
        ):
            raise ProtocolError(f"slot_bits must be even in [2, 16], got {slot_bits!r}")
        self.account_bits = account_bits
        self.slot_bits = slot_bits
        self.empty_orders_root = empty_orders_root(slot_bits)
        self.empty_leaf = empty_account_leaf(len(self.markets), slot_bits)
        self._tree = QuadTree(account_bits, self.empty_leaf)
        self._tree_owned = True
        self._accounts: dict[int, Account] = {}
        self._slot_trees: dict[int, QuadTree] = {}
        self._slots: dict[int, dict[int, OrderSlot]] = {}
        self._orders: dict[int, dict[int, Order]] = {}
        # Accounts whose slot structures this object owns (copy-on-write).
        self._owned: set[int] = set()
        # Accounts whose leaf in the account tree is behind their contents.
        self._stale: set[int] = set()
        self.create_account(FEE_ACCOUNT, fee_pubkey, 0)
        self.create_account(INSURANCE_ACCOUNT, insurance_pubkey, 0)

    # --- shape ------------------------------------------------------------------

    @property
    def num_markets(self) -> int:
        return len(self.markets)

    @property
    def capacity(self) -> int:
        return 1 << self.account_bits

    @property
    def slot_capacity(self) -> int:
        return 1 << self.slot_bits

    # --- copy-on-write ----------------------------------------------------------

    def copy(self) -> ExchangeState:
        """An independent state with the same contents (copy-on-write, O(accounts))."""
        other = _copy.copy(self)
        other._accounts = dict(self._accounts)
        other._slot_trees = dict(self._slot_trees)
        other._slots = dict(self._slots)
        other._orders = dict(self._orders)
        other._stale = set(self._stale)
        other._owned = set()
        other._tree_owned = False
        other.books = self.books.copy() if self.books is not None else None
        self._owned = set()
        self._tree_owned = False
        return other

    def _own_tree(self) -> QuadTree:
        if not self._tree_owned:
            self._tree = self._tree.copy()
            self._tree_owned = True
        return self._tree

    def _own_slots(self, index: int) -> QuadTree:
        if index not in self._owned:
            tree = self._slot_trees.get(index)
            if tree is None:
                tree = _empty_slot_tree(self.slot_bits)
            self._slot_trees[index] = tree.copy()
            self._slots[index] = dict(self._slots.get(index, {}))
            self._orders[index] = dict(self._orders.get(index, {}))
            self._owned.add(index)
        return self._slot_trees[index]

    # --- reads ------------------------------------------------------------------

    def _check_index(self, index: int) -> None:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.capacity:
            raise OrderRejected(
                Reject.UNKNOWN_ACCOUNT,
                f"account index {index!r} is outside the tree (capacity 2^{self.account_bits})",
            )

    def _check_slot_no(self, slot_no: int) -> None:
        if isinstance(slot_no, bool) or not isinstance(slot_no, int):
            raise ProtocolError(f"slot number must be an integer, got {slot_no!r}")
        if not 0 <= slot_no < self.slot_capacity:
            raise ProtocolError(f"slot {slot_no} is outside [0, 2^{self.slot_bits})")

    def exists(self, index: int) -> bool:
        return index in self._accounts

    def account(self, index: int) -> Account:
        """The account at ``index``; ``OrderRejected(UNKNOWN_ACCOUNT)`` if there is none."""
        self._check_index(index)
        try:
            return self._accounts[index]
        except KeyError:
            raise OrderRejected(Reject.UNKNOWN_ACCOUNT, f"no account at index {index}") from None

    def accounts(self) -> dict[int, Account]:
        """Every existing account, by index (a copy)."""
        return dict(self._accounts)

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(self._accounts))

    def __len__(self) -> int:
        return len(self._accounts)

    def slot(self, index: int, slot_no: int) -> OrderSlot:
        """Order slot ``slot_no`` of account ``index`` (``EMPTY_SLOT`` if never written)."""
        self.account(index)
        self._check_slot_no(slot_no)
        return self._slots.get(index, {}).get(slot_no, EMPTY_SLOT)

    def slots(self, index: int) -> dict[int, OrderSlot]:
        """Every written slot of account ``index`` (a copy)."""
        self.account(index)
        return dict(self._slots.get(index, {}))

    def slot_order(self, index: int, slot_no: int) -> Order | None:
        """The order resting in a slot, if the slot holds one."""
        self.account(index)
        self._check_slot_no(slot_no)
        return self._orders.get(index, {}).get(slot_no)

    def order(self, account: int, order_id: int) -> Order | None:
        """The order ``order_id`` of ``account`` if its slot still holds it, else ``None``."""
        if not self.exists(account) or not isinstance(order_id, int) or order_id <= 0:
            return None
        slot_no = order_id & (self.slot_capacity - 1)
        slot = self._slots.get(account, {}).get(slot_no)
        if slot is None or slot.order_id != order_id or not slot.is_open:
            return None
        return self._orders[account][slot_no]

    def open_orders(self, account: int) -> list[Order]:
        """The orders resting in ``account``'s slots, by slot number."""
        self.account(account)
        orders = self._orders.get(account, {})
        return [orders[s] for s in sorted(orders)]

    def orders_root(self, index: int) -> int:
        """Root of account ``index``'s order-slot tree."""
        self._check_index(index)
        tree = self._slot_trees.get(index)
        return tree.root if tree is not None else self.empty_orders_root

    def leaf(self, index: int) -> int:
        """The account leaf at ``index`` as stored in the account tree."""
        self._check_index(index)
        return self._tree.get(index)

    @property
    def root(self) -> int:
        """The state root the Rollup holds: ``H_STATE(accountsRoot, booksRoot)`` with the
        committed book, else the account root. Raises if a deferred leaf write is pending."""
        if self.books is None:
            return self.accounts_root
        return state_root(self.accounts_root, self.books.root)

    @property
    def accounts_root(self) -> int:
        """The account root. Raises if a deferred leaf write is pending."""
        if self._stale:
            raise ProtocolError(f"account leaves {sorted(self._stale)} are stale; sync them first")
        return self._tree.root

    @property
    def stored_root(self) -> int:
        """The account root as stored, even while deferred leaf writes are pending."""
        return self._tree.root

    def account_proof(self, index: int) -> MerkleProof:
        """Opening of account leaf ``index`` against the stored account root."""
        self._check_index(index)
        return self._tree.prove(index)

    def account_tree(self) -> QuadTree:
        """A copy of the account tree (leaf hashes), to write on without touching the state."""
        return self._tree.copy()

    def slot_tree(self, index: int) -> QuadTree:
        """A copy of account ``index``'s order-slot tree (leaf hashes)."""
        self._check_index(index)
        return self._slot_trees.get(index, _empty_slot_tree(self.slot_bits)).copy()

    def slot_proof(self, index: int, slot_no: int) -> MerkleProof:
        """Opening of order slot ``slot_no`` against account ``index``'s order root."""
        self._check_index(index)
        self._check_slot_no(slot_no)
        tree = self._slot_trees.get(index)
        if tree is None:
            tree = _empty_slot_tree(self.slot_bits)
        return tree.prove(slot_no)

    def total_collateral(self) -> int:
        """``sum of C`` over all accounts (§9)."""
        return sum(a.collateral for a in self._accounts.values())

    # --- writes -----------------------------------------------------------------

    def create_account(self, index: int, pubkey: Any, collateral: int) -> Account:
        """Open a new account at an unused ``index`` with ``collateral`` (genesis / deposit)."""
        self._check_index(index)
        if index in self._accounts:
            raise ProtocolError(f"account {index} already exists")
        key = pubkey_of(pubkey)
        # circomlib's EdDSAPoseidonVerifier does not check that A is in the prime-order
        # subgroup, so a key must be checked here, when it enters the state. The zero
        # key is allowed: it is off the curve, so nothing can ever be signed for it
        # (the fee account and insurance fund default to it).
        if key == ZERO_PUBKEY and index not in (FEE_ACCOUNT, INSURANCE_ACCOUNT):
            # The batch circuit leaves a leaf with key x = 0 past slots 0 and 1 unwritten
            # (an unknown account a message named): only accounts 0 and 1 may be keyless.
            raise ProtocolError(f"account {index} needs a public key (only 0 and 1 may have none)")
        if key != ZERO_PUBKEY and not eddsa.is_valid_public_key(key):
            raise ProtocolError(
                f"public key of account {index} is not a Baby Jubjub point of the "
                "prime-order subgroup"
            )
        account = Account.new(key, collateral, self.num_markets)
        self._accounts[index] = account
        self.sync(index)
        return account

    def deposit(self, index: int, amount: int) -> Account:
        """Credit ``amount > 0`` to an existing account (outside any batch)."""
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise ProtocolError(f"a deposit is a positive integer, got {amount!r}")
        account = self.account(index)
        return self.set_account(index, account.with_collateral(account.collateral + amount))

    def set_account(self, index: int, account: Account, *, sync: bool = True) -> Account:
        """Replace an existing account's contents (pubkey, nonce, C, positions).

        With ``sync=False`` the account leaf is left behind (the batch builder writes
        leaves in the circuit's order; see :meth:`sync`).
        """
        self.account(index)
        if len(account.positions) != self.num_markets:
            raise ProtocolError(
                f"account has {len(account.positions)} positions, want {self.num_markets}"
            )
        self._accounts[index] = account
        if sync:
            self.sync(index)
        else:
            self._stale.add(index)
        return account

    def set_slot(
        self,
        index: int,
        slot_no: int,
        slot: OrderSlot,
        order: Order | None = None,
        *,
        sync: bool = True,
    ) -> None:
        """Write order slot ``slot_no`` of account ``index``, with the order body of an
        open slot (``order.hash() == slot.order_hash`` is the caller's promise)."""
        self.account(index)
        self._check_slot_no(slot_no)
        if slot.is_open != (order is not None):
            raise ProtocolError("an open slot needs its order body, a closed one none")
        if slot.order_id & (self.slot_capacity - 1) != slot_no and slot.order_id != 0:
            raise ProtocolError(f"order id {slot.order_id} does not belong in slot {slot_no}")
        tree = self._own_slots(index)
        tree.set(slot_no, slot.hash())
        self._slots[index][slot_no] = slot
        if order is None:
            self._orders[index].pop(slot_no, None)
        else:
            self._orders[index][slot_no] = order
        if sync:
            self.sync(index)
        else:
            self._stale.add(index)

    def sync(self, index: int) -> MerkleProof:
        """Write account ``index``'s leaf from its contents; returns the opening of the
        leaf *before* the write (the siblings stay valid for the new leaf)."""
        proof = self.account_proof(index)
        self._own_tree().set(index, self.account(index).hash(self.orders_root(index)))
        self._stale.discard(index)
        return proof

    # --- persistence ------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """All contents; the trees are rebuilt from them (``root`` is a check value)."""
        accounts = []
        for index in sorted(self._accounts):
            slots = []
            for slot_no, slot in sorted(self._slots.get(index, {}).items()):
                order = self._orders.get(index, {}).get(slot_no)
                slots.append(
                    {
                        "slot": str(slot_no),
                        **slot.to_json(),
                        "order": order.to_json() if order is not None else None,
                    }
                )
            accounts.append(
                {"index": str(index), **self._accounts[index].to_json(), "slots": slots}
            )
        return {
            "account_bits": str(self.account_bits),
            "slot_bits": str(self.slot_bits),
            "markets": [m.to_json() for m in self.markets],
            "venue": self.venue.to_json() if self.venue is not None else None,
            "last_timestamp": str(self.last_timestamp),
            "inbox_count": str(self.inbox_count),
            "inbox_chain": str(self.inbox_chain),
            "deposit_count": str(self.deposit_count),
            "deposit_chain": str(self.deposit_chain),
            "accounts": accounts,
            "books": self.books.to_json() if self.books is not None else None,
            "root": str(self.root),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExchangeState:
        """Rebuild a state; raises if the rebuilt root differs from ``data['root']``."""
        if not isinstance(data, Mapping):
            raise ProtocolError("a state is a JSON object")
        markets = [Market.from_json(m) for m in data.get("markets", ())]
        records = list(data.get("accounts", ()))
        by_index = {parse_int(r.get("index"), "index"): r for r in records}
        if len(by_index) != len(records):
            raise ProtocolError("duplicate account index in state")
        if FEE_ACCOUNT not in by_index or INSURANCE_ACCOUNT not in by_index:
            raise ProtocolError("state lacks the fee account or the insurance fund")
        fee = Account.from_json(by_index[FEE_ACCOUNT])
        insurance = Account.from_json(by_index[INSURANCE_ACCOUNT])
        state = cls(
            markets,
            parse_int(data.get("account_bits"), "account_bits"),
            parse_int(data.get("slot_bits"), "slot_bits"),
            fee_pubkey=fee.pubkey,
            insurance_pubkey=insurance.pubkey,
            venue=VenueConfig.from_json(data["venue"]) if data.get("venue") else None,
            last_timestamp=parse_int(data.get("last_timestamp", "0"), "last_timestamp"),
            inbox_count=parse_int(data.get("inbox_count", "0"), "inbox_count"),
            inbox_chain=parse_int(data.get("inbox_chain", "0"), "inbox_chain"),
            books=Books.from_json(data["books"]) if data.get("books") else None,
        )
        state.deposit_count = parse_int(data.get("deposit_count", "0"), "deposit_count")
        state.deposit_chain = parse_int(data.get("deposit_chain", "0"), "deposit_chain")
        for index, record in sorted(by_index.items()):
            account = Account.from_json(record)
            if index not in (FEE_ACCOUNT, INSURANCE_ACCOUNT):
                state.create_account(index, account.pubkey, 0)
            for slot_record in record.get("slots", ()):
                slot = OrderSlot.from_json(slot_record)
                order_json = slot_record.get("order")
                order = Order.from_json(order_json) if order_json is not None else None
                if order is not None and order.hash() != slot.order_hash:
                    raise ProtocolError(f"account {index}: order body does not match its slot hash")
                slot_no = parse_int(slot_record.get("slot"), "slot")
                state.set_slot(index, slot_no, slot, order, sync=False)
            state.set_account(index, account)
        if "root" in data and parse_int(data["root"], "root") != state.root:
            raise ProtocolError("state root does not match its contents")
        return state

    def describe(self) -> dict[str, Any]:
        """A short summary (for logs and the CLI)."""
        return {
            "accounts": len(self._accounts),
            "account_bits": self.account_bits,
            "slot_bits": self.slot_bits,
            "markets": self.num_markets,
            "root": str(self.root if not self._stale else self.stored_root),
            "book": self.books is not None,
        }


def fee_and_insurance_keys(state: ExchangeState) -> tuple[PubKey, PubKey]:
    """The public keys of accounts 0 and 1."""
    return state.account(FEE_ACCOUNT).pubkey, state.account(INSURANCE_ACCOUNT).pubkey


__all__ = ["ExchangeState", "empty_account_leaf", "empty_orders_root", "fee_and_insurance_keys"]
