package hashtree

import (
	"fmt"
	"maps"
	"slices"

	"github.com/lafs/lafs/crypt"
)

// IncompleteTree is a tree of known shape whose hashes arrive piecemeal,
// typically from untrusted servers, and are verified as they arrive. It is
// Tahoe's IncompleteHashTree.
//
// The intended use: learn the root from a trusted source and add it with
// SetHashes(map[int]Hash{0: root}, nil). Then, for each leaf to verify, ask
// NeededHashes(leaf, false) which hashes are still missing, fetch them and
// the data from a server, hash the data to get the leaf, and pass both to
// SetHashes. If SetHashes returns nil, the leaf is correct.
//
// Make one with NewIncomplete; the zero value has no shape, and every
// SetHashes call on it fails with ErrIndex. Hashes are
// stored sparsely, so memory grows with the hashes added, not with the
// tree's size. An IncompleteTree is not safe for concurrent use.
type IncompleteTree struct {
	p     int          // padded leaf count; 0 if the tree was too large
	known map[int]Hash // verified (or computed) hashes by node index
}

// NewIncomplete returns an empty tree shaped for numLeaves leaves (before
// padding), knowing none of its hashes. Like Tahoe, it treats numLeaves of
// zero or less as no leaves, giving a one-node tree. Given more than
// MaxLeaves leaves it returns a tree for which every SetHashes call fails
// with ErrIndex.
func NewIncomplete(numLeaves int) *IncompleteTree {
	t := &IncompleteTree{known: make(map[int]Hash)}
	if numLeaves <= MaxLeaves {
		t.p = paddedLeaves(numLeaves)
	}
	return t
}

// NumLeaves returns the number of leaves after padding, P, as
// Tree.NumLeaves does; leaf j is node P-1+j. It is 0 for a tree made with
// more than MaxLeaves leaves.
func (t *IncompleteTree) NumLeaves() int { return t.p }

// size returns the number of nodes, or 0 for an unusable tree.
func (t *IncompleteTree) size() int {
	if t.p == 0 {
		return 0
	}
	return 2*t.p - 1
}

// Get returns the hash of node index and whether it is known. Known hashes
// have been verified against every hash known at the time they were added;
// they include hashes computed from known children. An index outside the
// tree is simply not known.
func (t *IncompleteTree) Get(index int) (Hash, bool) {
	if index < 0 || index >= t.size() {
		return Hash{}, false
	}
	h, ok := t.known[index]
	return h, ok
}

// NeededHashes lists, in ascending order, the node indices that are still
// unknown and are needed to verify leaf: those of Tree.NeededHashes(leaf,
// includeLeaf) not yet known. On a fresh tree it is exactly what
// Tree.NeededHashes returns for a tree of the same size; as hashes are
// added it asks for fewer. It returns nil if leaf is outside 0 to
// NumLeaves()-1 (SetHashes would reject that leaf with ErrIndex) and an
// empty, non-nil slice if nothing more is needed.
func (t *IncompleteTree) NeededHashes(leaf int, includeLeaf bool) []int {
	if t.p == 0 {
		return nil
	}
	needed := neededHashes(t.p, leaf, includeLeaf)
	if needed == nil {
		return nil
	}
	return slices.DeleteFunc(needed, func(k int) bool {
		_, ok := t.known[k]
		return ok
	})
}

// SetHashes adds hashes, keyed by node index (0 to 2P-2), and leaves, keyed
// by leaf number (0 to P-1; leaf j is node P-1+j), verifying all of them. It
// is all or nothing: if it returns an error, the tree is exactly as it was
// before the call; if it returns nil, every hash given is known, along with
// every parent hash they allowed to be computed. Either map may be nil.
//
// Verification follows Tahoe's set_hashes. A hash given for a node already
// known must equal the known one. Then, working from the deepest level up,
// each new hash is combined with its sibling (known, supplied, or computed
// in this call) to get its parent's hash, which must equal the parent's
// known or supplied hash, or else becomes a new hash checked in turn one
// level up. New hashes therefore either meet an already-known hash that
// they match, or reach the root.
//
// The errors, which all match one of this package's sentinels:
//   - ErrIndex if an index or leaf number is outside the tree (checked
//     before anything else);
//   - a *BadHashError (matching ErrBadHash) if a hash conflicts with a known
//     hash or with another supplied value for the same node, or a node's
//     hash differs from its children's; it names the node and the supplied
//     hashes under suspicion;
//   - ErrNotEnoughHashes if some new hash's sibling is neither known nor
//     supplied, so that it cannot be verified. As in Tahoe this is reported
//     at once, and nothing is kept for later: the caller must send the
//     whole chain again, with the missing siblings.
//
// Like Tahoe, SetHashes does not insist that the root be known: if it is
// not, a complete chain is accepted and the root it implies is computed and
// kept, so a root learnt later must match it. Set the trusted root first;
// until then nothing is verified against anything trustworthy.
func (t *IncompleteTree) SetHashes(hashes map[int]Hash, leaves map[int]Hash) error {
	if t.p == 0 {
		return fmt.Errorf("%w: tree has no shape (more than %d leaves, or not made by NewIncomplete)", ErrIndex, MaxLeaves)
	}
	size, first := t.size(), t.p-1

	hashIdx := slices.Sorted(maps.Keys(hashes))
	for _, k := range hashIdx {
		if k < 0 || k >= size {
			return fmt.Errorf("%w: node %d not in a tree of %d nodes", ErrIndex, k, size)
		}
	}
	leafIdx := slices.Sorted(maps.Keys(leaves))
	for _, j := range leafIdx {
		if j < 0 || j >= t.p {
			return fmt.Errorf("%w: leaf %d not in a tree of %d leaves", ErrIndex, j, t.p)
		}
	}

	// Merge the leaves into the node-indexed hashes.
	supplied := make(map[int]Hash, len(hashes)+len(leaves))
	maps.Copy(supplied, hashes)
	for _, j := range leafIdx {
		k := first + j
		if h, ok := supplied[k]; ok && h != leaves[j] {
			return t.badHash(k, conflictArgs, []int{k})
		}
		supplied[k] = leaves[j]
	}

	// added holds the hashes new to the tree, supplied or computed; nothing
	// touches t.known until all of them have been verified. levels[d] holds
	// the new nodes at depth d still to be checked against their parent.
	added := make(map[int]Hash, 2*len(supplied))
	computed := make(map[int]bool)
	levels := make([][]int, depth(size-1)+1)
	for _, k := range slices.Sorted(maps.Keys(supplied)) {
		h := supplied[k]
		if old, ok := t.known[k]; ok {
			if old != h {
				return t.badHash(k, conflictKnown, []int{k})
			}
			continue
		}
		added[k] = h
		levels[depth(k)] = append(levels[depth(k)], k)
	}
	get := func(k int) (Hash, bool) {
		if h, ok := added[k]; ok {
			return h, true
		}
		h, ok := t.known[k]
		return h, ok
	}

	// The root, alone at depth 0, has nothing to be checked against.
	for d := len(levels) - 1; d > 0; d-- {
		slices.Sort(levels[d])
		lastParent := -1
		for _, k := range levels[d] {
			p := parent(k)
			if p == lastParent {
				continue // k's sibling, already checked with it
			}
			lastParent = p
			s := sibling(k)
			if _, ok := get(s); !ok {
				return fmt.Errorf("%w: cannot verify node %d without its sibling %d",
					ErrNotEnoughHashes, k, s)
			}
			left, right := 2*p+1, 2*p+2
			lh, _ := get(left)
			rh, _ := get(right)
			c := crypt.MerkleInternalHash(lh, rh)
			if ph, ok := get(p); ok {
				if ph != c {
					return t.badHash(p, mismatch, suspects(p, added, computed))
				}
				continue
			}
			added[p] = c
			computed[p] = true
			levels[d-1] = append(levels[d-1], p)
		}
	}

	maps.Copy(t.known, added)
	return nil
}

func (t *IncompleteTree) badHash(k int, kind badHashKind, suspects []int) error {
	return &BadHashError{Index: k, NumLeaves: t.p, Suspects: suspects, kind: kind}
}

// suspects lists the supplied hashes that the failed check at node p
// depended on: p itself if it was supplied in this call, and below p the
// topmost supplied hashes that its children were computed from. Hashes
// known before the call, and supplied hashes already checked against a
// supplied parent, are not suspected on their own account.
func suspects(p int, added map[int]Hash, computed map[int]bool) []int {
	var out []int
	if _, ok := added[p]; ok {
		out = append(out, p) // supplied: only children are ever computed
	}
	var walk func(k int)
	walk = func(k int) {
		if _, ok := added[k]; !ok {
			return // known before this call
		}
		if !computed[k] {
			out = append(out, k)
			return
		}
		walk(2*k + 1)
		walk(2*k + 2)
	}
	walk(2*p + 1)
	walk(2*p + 2)
	slices.Sort(out)
	return out
}
