"""Merkle tree hashing, inclusion and consistency proofs exactly as RFC 9162 §2.1 defines them
(Certificate Transparency v2): leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right),
the tree over n leaves splits at the largest power of two below n.

`MerkleTree` holds the leaf hashes in append order; generation follows the RFC's recursive
definitions (§2.1.1, §2.1.3.1, §2.1.4.1) and verification its iterative algorithms (§2.1.3.2,
§2.1.4.2), so a proof produced here checks with any RFC 9162 verifier and vice versa.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
_sha256 = hashlib.sha256


class ProofError(ValueError):
    """A proof that does not verify (wrong length, wrong hashes or out-of-range indexes)."""


def leaf_hash(data: bytes) -> bytes:
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def empty_root() -> bytes:
    return _sha256(b"").digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The compact range [0, size) of the tree: the roots of its perfect subtrees, largest
    (leftmost) first, one per set bit of `size`. Appending a leaf merges equal-sized neighbours,
    so the root of a growing log costs O(log n) per leaf, without the earlier leaves."""

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()):
        if len(hashes) != size.bit_count():
            raise ValueError(f"a frontier of size {size} holds {size.bit_count()} hashes, not {len(hashes)}")
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf: bytes) -> None:
        hashes = self.hashes
        hashes.append(leaf)
        self.size += 1
        n = self.size
        while not n & 1:  # each trailing zero of the new size is one merge of two equal subtrees
            right = hashes.pop()
            hashes[-1] = _sha256(b"\x01" + hashes[-1] + right).digest()
            n >>= 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """`append` each leaf in turn (the same merges, without a method call per leaf)."""
        hashes = self.hashes
        size = self.size
        for leaf in leaves:
            hashes.append(leaf)
            size += 1
            n = size
            while not n & 1:
                right = hashes.pop()
                hashes[-1] = _sha256(b"\x01" + hashes[-1] + right).digest()
                n >>= 1
        self.size = size

    def root(self) -> bytes:
        """MTH of the `size` leaves appended so far (RFC 9162: the right border folds leftwards)."""
        if not self.hashes:
            return empty_root()
        digest = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            digest = node_hash(left, digest)
        return digest

    def serialize(self) -> str:
        return "".join(h.hex() for h in self.hashes)

    @classmethod
    def parse(cls, size: int, text: str) -> Frontier:
        raw = bytes.fromhex(text)
        return cls(size, [raw[i : i + HASH_SIZE] for i in range(0, len(raw), HASH_SIZE)])


class MerkleTree:
    """The tree over `leaves` (leaf hashes, not leaf data) and any of its prefixes.

    Every perfect subtree's hash is computed once, bottom-up, into one list per level (about n
    hashes in all); any subtree the RFC's recursion asks for is then a lookup or O(log n) merges.
    """

    def __init__(self, leaves: Sequence[bytes]):
        self.leaves = leaves
        self._levels: list[Sequence[bytes]] | None = None

    def __len__(self) -> int:
        return len(self.leaves)

    def _level(self, height: int) -> Sequence[bytes]:
        if self._levels is None:
            levels: list[Sequence[bytes]] = [self.leaves]
            below = self.leaves
            while len(below) > 1:
                pairs = zip(below[0::2], below[1::2], strict=False)
                below = [_sha256(b"\x01" + left + right).digest() for left, right in pairs]
                levels.append(below)
            self._levels = levels
        return self._levels[height]

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first `size` leaves (all by default)."""
        size = len(self.leaves) if size is None else size
        if not 0 <= size <= len(self.leaves):
            raise ValueError(f"tree size {size} outside 0..{len(self.leaves)}")
        return self._mth(0, size) if size else empty_root()

    def _mth(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n & (n - 1) == 0:  # a perfect subtree, aligned to its size by the RFC's splits
            height = n.bit_length() - 1
            return self._level(height)[lo >> height]
        k = _split(n)
        return node_hash(self._mth(lo, lo + k), self._mth(lo + k, hi))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1."""
        size = len(self.leaves) if size is None else size
        if not 0 <= index < size <= len(self.leaves):
            raise ValueError(f"leaf {index} is not in a tree of size {size}")
        return self._path(index, 0, size)

    def _path(self, m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return self._path(m, lo, lo + k) + [self._mth(lo + k, hi)]
        return self._path(m - k, lo + k, hi) + [self._mth(lo, lo + k)]

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(first, D[0:second]) of RFC 9162 §2.1.4.1 (empty when first is 0 or equals second)."""
        second = len(self.leaves) if second is None else second
        if not 0 <= first <= second <= len(self.leaves):
            raise ValueError(f"no consistency proof from size {first} to size {second}")
        if first == 0 or first == second:
            return []
        return self._subproof(first, 0, second, True)

    def _subproof(self, m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if whole else [self._mth(lo, hi)]
        k = _split(n)
        if m <= k:
            return self._subproof(m, lo, lo + k, whole) + [self._mth(lo + k, hi)]
        return self._subproof(m - k, lo + k, hi, False) + [self._mth(lo, lo + k)]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2: raise ProofError unless `leaf` (a leaf hash) is leaf `index` of the tree
    of `size` leaves whose root is `root`."""
    if index >= size or index < 0:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    if r != root:
        raise ProofError("inclusion proof leads to a different root")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> None:
    """RFC 9162 §2.1.4.2: raise ProofError unless the tree of `second` leaves (root `second_root`)
    extends the tree of `first` leaves (root `first_root`) by appending only."""
    if not 0 <= first <= second:
        raise ProofError(f"sizes {first} -> {second}: a log never shrinks")
    if first == second:
        if proof:
            raise ProofError("equal sizes take an empty consistency proof")
        if first_root != second_root:
            raise ProofError("same size, different roots")
        return
    if first == 0:
        if proof:
            raise ProofError("a proof from the empty tree is empty")
        return
    if not proof:
        raise ProofError("empty consistency proof between different sizes")
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: the old root is itself a node of the path
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than the tree is deep")
    if fr != first_root:
        raise ProofError("consistency proof does not lead to the earlier root")
    if sr != second_root:
        raise ProofError("consistency proof does not lead to the later root")
