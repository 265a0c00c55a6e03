"""The Merkle tree against an oracle written straight from RFC 9162 §2.1 (recursive definitions
over lists of leaf data, hashing with hashlib), on every size and index up to 40 and random larger
sizes; tampered proofs, roots and indexes must fail."""

from __future__ import annotations

import hashlib
import random

import pytest

from precursor_watch.ledger.merkle import (
    Frontier,
    MerkleTree,
    ProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)


def H(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def k_of(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    if not d:
        return H(b"")
    if len(d) == 1:
        return H(b"\x00" + d[0])
    k = k_of(len(d))
    return H(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = k_of(len(d))
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [mth(d)]
    k = k_of(len(d))
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def data(n: int, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(rng.randrange(0, 40)) for _ in range(n)]


def tree(d: list[bytes]) -> MerkleTree:
    return MerkleTree([leaf_hash(x) for x in d])


def test_empty_tree_root_is_hash_of_nothing():
    assert MerkleTree([]).root() == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 255, 256, 257, 1000, 1025])
def test_root_matches_the_recursive_definition(n):
    d = data(n, seed=n)
    t = tree(d)
    assert t.root() == mth(d)
    for size in random.Random(n).sample(range(n + 1), min(n + 1, 12)):
        assert t.root(size) == mth(d[:size])


def test_random_sizes_roots():
    rng = random.Random(7)
    for _ in range(30):
        n = rng.randrange(1, 600)
        d = data(n, seed=n * 31)
        assert tree(d).root() == mth(d)


N = 40
D = data(N, seed=40)
T = tree(D)


def test_every_inclusion_proof_up_to_40():
    for n in range(1, N + 1):
        root = mth(D[:n])
        for m in range(n):
            proof = T.inclusion_proof(m, n)
            assert proof == path(m, D[:n])
            verify_inclusion(leaf_hash(D[m]), m, n, proof, root)


def test_every_consistency_proof_up_to_40():
    for n in range(1, N + 1):
        second = mth(D[:n])
        for m in range(1, n + 1):
            proof = T.consistency_proof(m, n)
            assert proof == (subproof(m, D[:n], True) if m < n else [])
            verify_consistency(m, n, mth(D[:m]), second, proof)


def _flipped(proof: list[bytes], i: int) -> list[bytes]:
    bad = list(proof)
    bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
    return bad


def test_tampered_inclusion_proofs_fail():
    for n in range(1, N + 1):
        root = mth(D[:n])
        for m in range(n):
            proof = T.inclusion_proof(m, n)
            leaf = leaf_hash(D[m])
            for i in range(len(proof)):
                with pytest.raises(ProofError):
                    verify_inclusion(leaf, m, n, _flipped(proof, i), root)
            with pytest.raises(ProofError):
                verify_inclusion(leaf_hash(D[m] + b"x"), m, n, proof, root)
            with pytest.raises(ProofError):
                verify_inclusion(leaf, m, n, proof + [root], root)
            if proof:
                with pytest.raises(ProofError):
                    verify_inclusion(leaf, m, n, proof[:-1], root)
            if n > 1:
                other = (m + 1) % n
                if T.inclusion_proof(other, n) != proof or D[other] != D[m]:
                    with pytest.raises(ProofError):
                        verify_inclusion(leaf, other, n, proof, root)
            with pytest.raises(ProofError):
                verify_inclusion(leaf, n, n, proof, root)


def test_tampered_consistency_proofs_fail():
    for n in range(2, N + 1):
        second = mth(D[:n])
        for m in range(1, n):
            first = mth(D[:m])
            proof = T.consistency_proof(m, n)
            for i in range(len(proof)):
                with pytest.raises(ProofError):
                    verify_consistency(m, n, first, second, _flipped(proof, i))
            with pytest.raises(ProofError):
                verify_consistency(m, n, mth(D[: m - 1] + [b"forged"]), second, proof)
            with pytest.raises(ProofError):
                verify_consistency(m, n, first, mth(D[: n - 1] + [b"forged"]), proof)
            with pytest.raises(ProofError):
                verify_consistency(m, n, first, second, proof[:-1])
            with pytest.raises(ProofError):
                verify_consistency(m, n, first, second, proof + [second])
            with pytest.raises(ProofError):
                verify_consistency(m, n, first, second, [])


def test_history_rewritten_before_an_old_head_breaks_consistency():
    rewritten = list(D)
    rewritten[3] = b"rewritten"
    t2 = tree(rewritten)
    with pytest.raises(ProofError):
        verify_consistency(10, 30, mth(D[:10]), t2.root(30), t2.consistency_proof(10, 30))


def test_equal_sizes_need_equal_roots():
    verify_consistency(5, 5, mth(D[:5]), mth(D[:5]), [])
    with pytest.raises(ProofError):
        verify_consistency(5, 5, mth(D[:5]), mth(D[:4] + [b"z"]), [])


def test_frontier_gives_the_oracles_root_at_every_size_and_survives_serialisation():
    d = data(70, seed=7)
    frontier = Frontier()
    assert frontier.root() == mth([])
    for n in range(1, len(d) + 1):
        frontier.append(leaf_hash(d[n - 1]))
        assert frontier.size == n and frontier.root() == mth(d[:n]), n
        # a sealed head keeps its frontier as text; appending from the parsed copy goes on the same
        again = Frontier.parse(n, frontier.serialize())
        again.extend(leaf_hash(x) for x in d[n:n + 3])
        assert again.root() == mth(d[: min(len(d), n + 3)])


def test_frontier_refuses_a_hash_count_that_does_not_fit_its_size():
    with pytest.raises(ValueError, match="holds 2 hashes"):
        Frontier(5, [b"\x00" * 32])

