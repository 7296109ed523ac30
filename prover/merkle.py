"""Sparse quaternary Poseidon Merkle tree (docs/protocol.md, section 3).

Only touched nodes are stored; untouched subtrees are the precomputed empty roots
``Z_k``. A tree of ``bits`` bits has ``bits // 2`` levels of arity 4; leaf index ``i``
is read in base 4, least significant digit at the leaf level.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prover.crypto import poseidon
from prover.errors import ProtocolError
from prover.exchange.constants import ARITY, TAG_NODE


def hash_node(children: Iterable[int]) -> int:
    """``H_NODE(c0, c1, c2, c3)``: the hash of one inner node."""
    return poseidon(list(children), init_state=TAG_NODE)


def empty_roots(empty_leaf: int, levels: int) -> list[int]:
    """``[Z_0, ..., Z_levels]`` where ``Z_0`` is the empty leaf."""
    roots = [empty_leaf]
    for _ in range(levels):
        roots.append(hash_node([roots[-1]] * ARITY))
    return roots


def index_digits(index: int, levels: int) -> list[int]:
    """Base-4 digits of ``index``, leaf level first."""
    return [(index >> (2 * level)) & 3 for level in range(levels)]


@dataclass(frozen=True)
class MerkleProof:
    """Opening of one leaf: the three siblings at each level, leaf level first.

    ``siblings[l]`` lists the other three children of the level-``l`` node in
    child order, skipping the position of the path itself.
    """

    index: int
    leaf: int
    siblings: tuple[tuple[int, int, int], ...]

    def root(self) -> int:
        """The root this proof opens to."""
        return compute_root(self.leaf, self.index, self.siblings)

    def path_digits(self) -> list[int]:
        return index_digits(self.index, len(self.siblings))

    def as_circuit_inputs(self) -> dict[str, object]:
        return {
            "leaf": str(self.leaf),
            "pathIndex": [str(d) for d in self.path_digits()],
            "siblings": [[str(s) for s in level] for level in self.siblings],
        }


def compute_root(leaf: int, index: int, siblings: tuple[tuple[int, int, int], ...]) -> int:
    """Fold a leaf up its path."""
    node = leaf
    for level, digit in enumerate(index_digits(index, len(siblings))):
        sibs = list(siblings[level])
        children = sibs[:digit] + [node] + sibs[digit:]
        node = hash_node(children)
    return node


class QuadTree:
    """A sparse quaternary Merkle tree of ``bits`` bits (``bits`` even).

    ``set`` and ``get`` work on leaf hashes; what a leaf means is the caller's business.
    """

    def __init__(self, bits: int, empty_leaf: int) -> None:
        if bits <= 0 or bits % 2:
            raise ProtocolError(f"tree depth must be a positive even number of bits, got {bits}")
        self.bits = bits
        self.levels = bits // 2
        self.empty_leaf = empty_leaf
        self._zero = empty_roots(empty_leaf, self.levels)
        # _nodes[level][position] = hash; level 0 holds leaves.
        self._nodes: list[dict[int, int]] = [{} for _ in range(self.levels + 1)]

    @property
    def capacity(self) -> int:
        return 1 << self.bits

    @property
    def root(self) -> int:
        return self._nodes[self.levels].get(0, self._zero[self.levels])

    def _check_index(self, index: int) -> None:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.capacity:
            raise ProtocolError(
                f"leaf index {index!r} is outside the tree (capacity 2^{self.bits})"
            )

    def _node(self, level: int, position: int) -> int:
        return self._nodes[level].get(position, self._zero[level])

    def node(self, level: int, position: int) -> int:
        """The hash of node ``position`` at ``level`` (0: the leaves; ``levels``: the root)."""
        if not 0 <= level <= self.levels or not 0 <= position < 4 ** (self.levels - level):
            raise ProtocolError(f"no node {position} at level {level} of a {self.bits}-bit tree")
        return self._node(level, position)

    def get(self, index: int) -> int:
        self._check_index(index)
        return self._node(0, index)

    def set(self, index: int, leaf: int) -> None:
        """Write a leaf and rehash its path (``levels`` hashes)."""
        self._check_index(index)
        self._nodes[0][index] = leaf
        position = index
        for level in range(self.levels):
            parent = position >> 2
            base = parent << 2
            children = [self._node(level, base + j) for j in range(ARITY)]
            self._nodes[level + 1][parent] = hash_node(children)
            position = parent

    def prove(self, index: int) -> MerkleProof:
        """The opening of leaf ``index`` against the current root."""
        self._check_index(index)
        siblings = []
        position = index
        for level in range(self.levels):
            base = (position >> 2) << 2
            digit = position & 3
            siblings.append(
                tuple(self._node(level, base + j) for j in range(ARITY) if j != digit)
            )
            position >>= 2
        return MerkleProof(index, self.get(index), tuple(siblings))  # type: ignore[arg-type]

    def copy(self) -> QuadTree:
        """An independent copy (the empty-subtree table is shared: it is never written)."""
        clone = QuadTree.__new__(QuadTree)
        clone.bits, clone.levels, clone.empty_leaf = self.bits, self.levels, self.empty_leaf
        clone._zero = self._zero
        clone._nodes = [dict(level) for level in self._nodes]
        return clone

    def touched(self) -> dict[int, int]:
        """Every leaf ever written, by index (for persistence)."""
        return dict(self._nodes[0])
