// Package hashtree implements the Merkle hash trees of Tahoe-LAFS's
// src/allmydata/hashtree.py: the complete tree a writer builds over its
// block or share hashes (Tahoe's HashTree), and the incomplete tree a reader
// fills in from untrusted servers, checking every hash it is given against
// the root (Tahoe's IncompleteHashTree).
//
// A tree over n leaves is padded to P leaves, P the smallest power of two
// that is at least n (P = 1 when n is 0 or 1); padding leaf i is
// crypt.MerkleEmptyLeafHash(i). The 2P-1 nodes are stored breadth first:
// node 0 is the root, the children of node k are 2k+1 and 2k+2, and leaf j
// is node P-1+j. An interior node's hash is crypt.MerkleInternalHash of its
// children. Node numbers ("indices") and this layout are what Tahoe's share
// formats store and transmit, so they are part of the wire format.
package hashtree

import (
	"math/bits"
	"slices"

	"github.com/lafs/lafs/crypt"
)

// Hash is the 32-byte value of one node of a tree.
type Hash = crypt.Hash

// MaxLeaves is the largest leaf count this package accepts: the largest
// power of two P for which the 2P-1 node indices fit in an int. Functions
// given more leaves than this report an empty or invalid tree rather than
// overflow.
const MaxLeaves = 1 << (bits.UintSize - 2)

// Tree is a complete Merkle tree in Tahoe's flat breadth-first layout:
// t[0] is the root and t[NumLeaves()-1+j] is leaf j. Build one with New.
type Tree []Hash

// New builds the complete tree over leaves. Like Tahoe, it pads the leaves
// to a power of two with empty-leaf hashes; no leaves at all give a
// one-node tree whose root is crypt.MerkleEmptyLeafHash(0), and one leaf
// gives a one-node tree whose root is that leaf.
func New(leaves []Hash) Tree {
	p := paddedLeaves(len(leaves))
	t := make(Tree, 2*p-1)
	first := p - 1
	copy(t[first:], leaves)
	for j := len(leaves); j < p; j++ {
		t[first+j] = crypt.MerkleEmptyLeafHash(j)
	}
	for k := first - 1; k >= 0; k-- {
		t[k] = crypt.MerkleInternalHash(t[2*k+1], t[2*k+2])
	}
	return t
}

// Root returns the root hash, node 0. The empty Tree (which New never
// returns) has the zero Hash as its root.
func (t Tree) Root() Hash {
	if len(t) == 0 {
		return Hash{}
	}
	return t[0]
}

// NumLeaves returns the number of leaves after padding: P, a power of two.
func (t Tree) NumLeaves() int {
	if len(t) == 0 {
		return 0
	}
	return (len(t) + 1) / 2
}

// NeededHashes returns, in ascending order, the node indices someone holding
// only leaf's hash needs in order to verify it against the root: the sibling
// of each node on the path from the leaf up to (not including) the root,
// plus the leaf's own node index if includeLeaf is set. The root is left
// out, since it is expected to come from a trusted source (unless, in a
// one-leaf tree, it is the leaf and includeLeaf is set). Leaf
// numbers run from 0 to NumLeaves()-1, padding leaves included; for any
// other leaf, or a Tree not built by New, the result is nil.
func (t Tree) NeededHashes(leaf int, includeLeaf bool) []int {
	p := t.NumLeaves()
	if p == 0 || p&(p-1) != 0 || len(t) != 2*p-1 {
		return nil
	}
	return neededHashes(p, leaf, includeLeaf)
}

// NeededHashes is Tree.NeededHashes for a tree over numLeaves leaves
// (before padding), computed without building the tree. numLeaves of zero
// or less describes the one-node tree; more than MaxLeaves gives nil.
func NeededHashes(numLeaves, leaf int, includeLeaf bool) []int {
	if numLeaves > MaxLeaves {
		return nil
	}
	return neededHashes(paddedLeaves(numLeaves), leaf, includeLeaf)
}

// Size returns the number of nodes, 2P-1, in a tree over numLeaves leaves
// (before padding). Like Tahoe, it treats numLeaves of zero or less as an
// empty list of leaves, giving 1. It returns 0 if numLeaves exceeds
// MaxLeaves.
func Size(numLeaves int) int {
	if numLeaves > MaxLeaves {
		return 0
	}
	return 2*paddedLeaves(numLeaves) - 1
}

// paddedLeaves rounds n up to a power of two, at least 1. The caller
// ensures n <= MaxLeaves.
func paddedLeaves(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}

// neededHashes lists the sibling chain of leaf in a tree of p padded leaves,
// or nil if leaf is not one of them.
func neededHashes(p, leaf int, includeLeaf bool) []int {
	if leaf < 0 || leaf >= p {
		return nil
	}
	k := p - 1 + leaf
	out := make([]int, 0, bits.Len(uint(p))+1)
	if includeLeaf {
		out = append(out, k)
	}
	for ; k != 0; k = parent(k) {
		out = append(out, sibling(k))
	}
	slices.Sort(out)
	return out
}

// parent returns the parent of node k > 0.
func parent(k int) int { return (k - 1) / 2 }

// sibling returns the other child of node k's parent, for k > 0: left
// children have odd indices, right children even ones.
func sibling(k int) int {
	if k%2 == 1 {
		return k + 1
	}
	return k - 1
}

// depth returns the level of node k: 0 for the root, 1 for its children,
// and so on.
func depth(k int) int { return bits.Len(uint(k)+1) - 1 }
