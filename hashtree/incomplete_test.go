package hashtree

import (
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/lafs/lafs/crypt"
)

// chain returns tree's hashes at the given node indices.
func chain(tree Tree, idx []int) map[int]Hash {
	m := make(map[int]Hash, len(idx))
	for _, k := range idx {
		m[k] = tree[k]
	}
	return m
}

// snapshot returns a copy of every known hash of t, checking that Get
// agrees with it.
func snapshot(t *IncompleteTree) map[int]Hash {
	m := maps.Clone(t.known)
	for k, h := range m {
		if got, ok := t.Get(k); !ok || got != h {
			panic("Get disagrees with the stored hashes")
		}
	}
	return m
}

func flip(h Hash, bit int) Hash {
	h[bit/8%32] ^= 1 << (bit % 8)
	return h
}

// setOK calls SetHashes and fails the test on error.
func setOK(t *testing.T, it *IncompleteTree, hashes, leaves map[int]Hash) {
	t.Helper()
	if err := it.SetHashes(hashes, leaves); err != nil {
		t.Fatalf("SetHashes(%v, %v): %v", slices.Sorted(maps.Keys(hashes)), slices.Sorted(maps.Keys(leaves)), err)
	}
}

// setBad calls SetHashes, expects a *BadHashError and checks that the tree
// is unchanged.
func setBad(t *testing.T, it *IncompleteTree, hashes, leaves map[int]Hash) *BadHashError {
	t.Helper()
	before := snapshot(it)
	err := it.SetHashes(hashes, leaves)
	var bad *BadHashError
	if !errors.As(err, &bad) || !errors.Is(err, ErrBadHash) {
		t.Fatalf("SetHashes: err = %v, want a *BadHashError", err)
	}
	if errors.Is(err, ErrNotEnoughHashes) || errors.Is(err, ErrIndex) {
		t.Fatalf("SetHashes: %v matches the wrong sentinel", err)
	}
	if after := snapshot(it); !maps.Equal(before, after) {
		t.Fatalf("failed SetHashes changed the tree: %d hashes before, %d after", len(before), len(after))
	}
	return bad
}

// isAncestorOrSelf reports whether node a is k or above it.
func isAncestorOrSelf(a, k int) bool {
	for k > a {
		k = parent(k)
	}
	return k == a
}

// TestIncompleteTahoeCheck follows the scenario of Tahoe's test_check.
func TestIncompleteTahoeCheck(t *testing.T) {
	tree := New(leafHashes(6))
	leaf := func(s string) Hash { return crypt.TaggedHash("tag", []byte(s)) }
	badLeaf := func(s string) Hash { return crypt.TaggedHash("bad tag", []byte(s)) }

	it := NewIncomplete(6)
	if got := it.NeededHashes(0, false); !slices.Equal(got, []int{2, 4, 8}) {
		t.Fatalf("needed(0) = %v", got)
	}

	// Without the siblings, leaf 0 cannot be verified.
	err := it.SetHashes(nil, map[int]Hash{0: leaf("0")})
	if !errors.Is(err, ErrNotEnoughHashes) {
		t.Fatalf("leaf without chain: err = %v, want ErrNotEnoughHashes", err)
	}
	if len(snapshot(it)) != 0 || !slices.Equal(it.NeededHashes(0, false), []int{2, 4, 8}) {
		t.Fatalf("failed SetHashes changed the tree")
	}

	good := chain(tree, []int{0, 2, 4, 8})
	// A wrong leaf. The root is supplied in the same call, so it is a
	// suspect too.
	bad := setBad(t, it, good, map[int]Hash{0: badLeaf("0")})
	if bad.Index != 0 || !slices.Equal(bad.Suspects, []int{0, 2, 4, 7, 8}) {
		t.Errorf("wrong leaf: Index %d Suspects %v", bad.Index, bad.Suspects)
	}
	// Leaf 1 is node 8, already supplied with a different value.
	bad = setBad(t, it, good, map[int]Hash{1: badLeaf("1")})
	if bad.Index != 8 || !slices.Equal(bad.Suspects, []int{8}) {
		t.Errorf("conflicting arguments: Index %d Suspects %v", bad.Index, bad.Suspects)
	}
	// A wrong interior hash.
	badChain := maps.Clone(good)
	badChain[2] = flip(badChain[2], 0)
	bad = setBad(t, it, badChain, map[int]Hash{0: leaf("0")})
	if bad.Index != 0 || !slices.Contains(bad.Suspects, 2) {
		t.Errorf("wrong interior hash: Index %d Suspects %v", bad.Index, bad.Suspects)
	}

	setOK(t, it, good, map[int]Hash{0: leaf("0")})
	setOK(t, it, nil, map[int]Hash{1: leaf("1")})
	bad = setBad(t, it, nil, map[int]Hash{1: badLeaf("1")})
	if bad.Index != 8 {
		t.Errorf("conflict with known leaf: Index %d", bad.Index)
	}

	if got := it.NeededHashes(4, false); !slices.Equal(got, []int{6, 12}) {
		t.Fatalf("needed(4) = %v, want [6 12]", got)
	}
	setOK(t, it, chain(tree, []int{6, 12}), map[int]Hash{4: leaf("4")})
	for _, k := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12} {
		if h, ok := it.Get(k); !ok || h != tree[k] {
			t.Errorf("node %d: known %v, correct %v", k, ok, h == tree[k])
		}
	}
	for _, k := range []int{9, 10, 13, 14} {
		if _, ok := it.Get(k); ok {
			t.Errorf("node %d unexpectedly known", k)
		}
	}
}

// TestIncompleteEveryLeaf verifies every leaf of random trees, one at a time
// on a fresh tree, and then all of them in a random order on one tree.
func TestIncompleteEveryLeaf(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 3, 5, 8, 13, 31, 64, 100} {
		leaves := make([]Hash, n)
		for i := range leaves {
			for b := range leaves[i] {
				leaves[i][b] = byte(rng.Uint32())
			}
		}
		tree := New(leaves)
		p := tree.NumLeaves()
		for leaf := range p {
			it := NewIncomplete(n)
			setOK(t, it, map[int]Hash{0: tree.Root()}, nil)
			needed := it.NeededHashes(leaf, false)
			if !slices.Equal(needed, tree.NeededHashes(leaf, false)) {
				t.Fatalf("n=%d leaf=%d: fresh needed %v differs from Tree's", n, leaf, needed)
			}
			setOK(t, it, chain(tree, needed), map[int]Hash{leaf: tree[p-1+leaf]})
			if h, ok := it.Get(p - 1 + leaf); !ok || h != tree[p-1+leaf] {
				t.Fatalf("n=%d leaf=%d not known after verification", n, leaf)
			}
		}

		it := NewIncomplete(n)
		setOK(t, it, map[int]Hash{0: tree.Root()}, nil)
		for _, leaf := range rng.Perm(p) {
			needed := it.NeededHashes(leaf, true)
			full := tree.NeededHashes(leaf, true)
			for _, k := range needed {
				if !slices.Contains(full, k) {
					t.Fatalf("n=%d leaf=%d: needs %d, not in %v", n, leaf, k, full)
				}
			}
			setOK(t, it, chain(tree, needed), nil)
			if got := it.NeededHashes(leaf, true); len(got) != 0 || got == nil {
				t.Fatalf("n=%d leaf=%d: still needs %v", n, leaf, got)
			}
		}
		if got := snapshot(it); !maps.Equal(got, chain(tree, slices.Collect(func(yield func(int) bool) {
			for k := range tree {
				if !yield(k) {
					return
				}
			}
		}))) {
			t.Fatalf("n=%d: after all leaves the tree is not the complete tree", n)
		}
	}
}

// TestIncompleteBulk adds every hash every leaf needs in one call, like
// Tahoe's test_large, and checks the result and the time it takes.
func TestIncompleteBulk(t *testing.T) {
	const n = 10000
	tree := New(leafHashes(n))
	all := make(map[int]Hash)
	for leaf := range n {
		maps.Copy(all, chain(tree, tree.NeededHashes(leaf, true)))
	}
	it := NewIncomplete(n)
	setOK(t, it, all, nil)
	if h, ok := it.Get(0); !ok || h != tree.Root() {
		t.Fatalf("root not computed")
	}
	for k := range all {
		if h, _ := it.Get(k); h != tree[k] {
			t.Fatalf("node %d wrong", k)
		}
	}
}

// TestFlipKnown flips a bit of each hash of a fully known tree: the
// conflict is pinned to exactly that node.
func TestFlipKnown(t *testing.T) {
	for _, n := range []int{1, 2, 6, 16} {
		tree := New(leafHashes(n))
		p := tree.NumLeaves()
		it := NewIncomplete(n)
		setOK(t, it, chain(tree, slices.Collect(func(yield func(int) bool) {
			for k := range tree {
				if !yield(k) {
					return
				}
			}
		})), nil)
		for k := range tree {
			for _, bit := range []int{0, 77, 255} {
				bad := setBad(t, it, map[int]Hash{k: flip(tree[k], bit)}, nil)
				if bad.Index != k || !slices.Equal(bad.Suspects, []int{k}) {
					t.Errorf("n=%d flip node %d: Index %d Suspects %v", n, k, bad.Index, bad.Suspects)
				}
				if k >= p-1 {
					bad = setBad(t, it, nil, map[int]Hash{k - (p - 1): flip(tree[k], bit)})
					if bad.Index != k {
						t.Errorf("n=%d flip leaf %d: Index %d", n, k-(p-1), bad.Index)
					}
				}
			}
		}
	}
}

// TestFlipChain flips a bit in each hash of a leaf's chain (leaf
// included), checked against a root known in advance: the mismatch is
// found at the root, and the suspects are exactly the chain.
func TestFlipChain(t *testing.T) {
	for _, n := range []int{2, 3, 8, 11} {
		tree := New(leafHashes(n))
		p := tree.NumLeaves()
		for leaf := range p {
			idx := tree.NeededHashes(leaf, true)
			for _, k := range idx {
				it := NewIncomplete(n)
				setOK(t, it, map[int]Hash{0: tree.Root()}, nil)
				hashes := chain(tree, idx)
				hashes[k] = flip(hashes[k], k)
				bad := setBad(t, it, hashes, nil)
				if bad.Index != 0 || !slices.Equal(bad.Suspects, idx) {
					t.Errorf("n=%d leaf=%d flip %d: Index %d Suspects %v, want 0 %v", n, leaf, k, bad.Index, bad.Suspects, idx)
				}
				if len(snapshot(it)) != 1 {
					t.Fatalf("tree changed")
				}
			}
		}
	}
}

// TestFlipBulk supplies the whole tree at once with one bit flipped: the
// mismatch is found at the flipped node itself if it is interior (its
// children disagree with it), or at its parent if it is a leaf.
func TestFlipBulk(t *testing.T) {
	for _, n := range []int{2, 5, 8, 32} {
		tree := New(leafHashes(n))
		p := tree.NumLeaves()
		for k := range tree {
			all := chain(tree, slices.Collect(func(yield func(int) bool) {
				for k := range tree {
					if !yield(k) {
						return
					}
				}
			}))
			all[k] = flip(all[k], 3*k)
			for _, withRoot := range []bool{false, true} {
				it := NewIncomplete(n)
				if withRoot {
					setOK(t, it, map[int]Hash{0: tree.Root()}, nil)
					if k == 0 {
						continue // a plain conflict, covered by TestFlipKnown
					}
				}
				bad := setBad(t, it, all, nil)
				wantIndex := k
				if k >= p-1 {
					wantIndex = parent(k)
				}
				var want []int
				if !withRoot || wantIndex != 0 {
					want = append(want, wantIndex)
				}
				want = append(want, 2*wantIndex+1, 2*wantIndex+2)
				if bad.Index != wantIndex || !slices.Equal(bad.Suspects, want) {
					t.Errorf("n=%d root=%v flip %d: Index %d Suspects %v, want %d %v", n, withRoot, k, bad.Index, bad.Suspects, wantIndex, want)
				}
			}
		}
	}
}

// TestFlipPartial verifies random leaves first, then a chain with one bit
// flipped: the mismatch is found at the lowest already-known ancestor of
// the leaf, and the flipped hash is among the suspects.
func TestFlipPartial(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		n := 2 + rng.IntN(40)
		tree := New(leafHashes(n))
		p := tree.NumLeaves()
		it := NewIncomplete(n)
		setOK(t, it, map[int]Hash{0: tree.Root()}, nil)
		for range rng.IntN(p) {
			leaf := rng.IntN(p)
			setOK(t, it, chain(tree, it.NeededHashes(leaf, true)), nil)
		}
		leaf := rng.IntN(p)
		idx := it.NeededHashes(leaf, true)
		if len(idx) == 0 {
			continue
		}
		k := idx[rng.IntN(len(idx))]
		hashes := chain(tree, idx)
		hashes[k] = flip(hashes[k], rng.IntN(256))
		bad := setBad(t, it, hashes, nil)

		lowest := parent(p - 1 + leaf)
		for {
			if _, ok := it.Get(lowest); ok {
				break
			}
			lowest = parent(lowest)
		}
		if bad.Index != lowest || !isAncestorOrSelf(bad.Index, k) || !slices.Equal(bad.Suspects, idx) {
			t.Errorf("n=%d leaf=%d flip %d: Index %d Suspects %v; want Index %d Suspects %v",
				n, leaf, k, bad.Index, bad.Suspects, lowest, idx)
		}
		setOK(t, it, chain(tree, idx), nil)
	}
}

func TestNotEnoughHashes(t *testing.T) {
	tree := New(leafHashes(8))
	for leaf := range 8 {
		idx := tree.NeededHashes(leaf, true)
		for _, drop := range idx {
			if drop == 7+leaf {
				continue
			}
			it := NewIncomplete(8)
			setOK(t, it, map[int]Hash{0: tree.Root()}, nil)
			hashes := chain(tree, idx)
			delete(hashes, drop)
			err := it.SetHashes(hashes, nil)
			if !errors.Is(err, ErrNotEnoughHashes) || errors.Is(err, ErrBadHash) {
				t.Fatalf("leaf %d without %d: err = %v", leaf, drop, err)
			}
			if len(snapshot(it)) != 1 {
				t.Fatalf("failed SetHashes changed the tree")
			}
		}
	}
	// A lone interior hash with no sibling, even under a known root.
	it := NewIncomplete(8)
	setOK(t, it, map[int]Hash{0: tree.Root()}, nil)
	if err := it.SetHashes(map[int]Hash{1: tree[1]}, nil); !errors.Is(err, ErrNotEnoughHashes) {
		t.Fatalf("lone node 1: err = %v", err)
	}
	setOK(t, it, map[int]Hash{1: tree[1], 2: tree[2]}, nil)
}

// TestOutOfOrder adds hashes in orders other than root first.
func TestOutOfOrder(t *testing.T) {
	tree := New(leafHashes(8))

	// A chain with no root is accepted and the root computed; the real
	// root then matches and a false one conflicts.
	it := NewIncomplete(8)
	setOK(t, it, chain(tree, tree.NeededHashes(3, true)), nil)
	if h, ok := it.Get(0); !ok || h != tree.Root() {
		t.Fatalf("root not computed from a complete chain")
	}
	setOK(t, it, map[int]Hash{0: tree.Root()}, nil)
	if bad := setBad(t, it, map[int]Hash{0: flip(tree.Root(), 9)}, nil); bad.Index != 0 {
		t.Errorf("false root: Index %d", bad.Index)
	}

	// Without a root, a corrupt chain is accepted too, and the real root
	// arriving later exposes it.
	it = NewIncomplete(8)
	hashes := chain(tree, tree.NeededHashes(3, true))
	hashes[10] = flip(hashes[10], 1)
	setOK(t, it, hashes, nil)
	if bad := setBad(t, it, map[int]Hash{0: tree.Root()}, nil); bad.Index != 0 {
		t.Errorf("late root: Index %d", bad.Index)
	}

	// Siblings sent ahead of their leaf are refused, not kept for later.
	it = NewIncomplete(8)
	setOK(t, it, map[int]Hash{0: tree.Root()}, nil)
	if err := it.SetHashes(chain(tree, tree.NeededHashes(5, false)), nil); !errors.Is(err, ErrNotEnoughHashes) {
		t.Fatalf("siblings without leaf: err = %v", err)
	}
	// The leaf may come as a leaf or as a node; both at once must agree.
	setOK(t, it, chain(tree, tree.NeededHashes(5, false)), map[int]Hash{5: tree[12]})
	setOK(t, it, map[int]Hash{12: tree[12]}, map[int]Hash{5: tree[12]})
	setOK(t, it, chain(tree, it.NeededHashes(2, false)), map[int]Hash{2: tree[9]})
	bad := setBad(t, it, map[int]Hash{13: tree[13]}, map[int]Hash{6: flip(tree[13], 0)})
	if bad.Index != 13 {
		t.Errorf("leaf given two values: Index %d", bad.Index)
	}

	// A deeper subtree may be filled in below a known interior node.
	it = NewIncomplete(8)
	setOK(t, it, chain(tree, []int{0, 1, 2}), nil)
	setOK(t, it, chain(tree, []int{5, 6}), nil)
	setOK(t, it, chain(tree, []int{13, 14}), nil)
	if got := it.NeededHashes(6, false); len(got) != 0 {
		t.Errorf("needed(6) = %v", got)
	}
	if got := it.NeededHashes(0, true); !slices.Equal(got, []int{4, 7, 8}) {
		t.Errorf("needed(0) = %v", got)
	}
}

func TestIndexErrors(t *testing.T) {
	tree := New(leafHashes(6))
	it := NewIncomplete(6)
	setOK(t, it, map[int]Hash{0: tree.Root()}, nil)
	for _, tc := range []struct {
		hashes, leaves map[int]Hash
	}{
		{map[int]Hash{-1: {}}, nil},
		{map[int]Hash{15: {}}, nil},
		{map[int]Hash{1 << 62: {}}, nil},
		{nil, map[int]Hash{-1: {}}},
		{nil, map[int]Hash{8: {}}},
		// A bad index is reported even alongside a bad hash.
		{map[int]Hash{0: {}, 99: {}}, nil},
	} {
		err := it.SetHashes(tc.hashes, tc.leaves)
		if !errors.Is(err, ErrIndex) || errors.Is(err, ErrBadHash) {
			t.Errorf("SetHashes(%v, %v): err = %v, want ErrIndex", tc.hashes, tc.leaves, err)
		}
	}
	for _, k := range []int{-1, 15, 1 << 40} {
		if _, ok := it.Get(k); ok {
			t.Errorf("Get(%d) reported a hash", k)
		}
	}
	if len(snapshot(it)) != 1 {
		t.Errorf("failed calls changed the tree")
	}
	for _, leaf := range []int{-1, 8, -1 << 40} {
		if got := it.NeededHashes(leaf, true); got != nil {
			t.Errorf("NeededHashes(%d) = %v, want nil", leaf, got)
		}
	}
	if err := it.SetHashes(nil, nil); err != nil {
		t.Errorf("empty SetHashes: %v", err)
	}
}

func TestIncompleteSmall(t *testing.T) {
	// No leaves: a one-node tree whose only leaf is the empty leaf 0.
	for _, n := range []int{0, -3} {
		it := NewIncomplete(n)
		if it.NumLeaves() != 1 {
			t.Fatalf("NewIncomplete(%d).NumLeaves() = %d", n, it.NumLeaves())
		}
		setOK(t, it, map[int]Hash{0: New(nil).Root()}, nil)
		setOK(t, it, nil, map[int]Hash{0: crypt.MerkleEmptyLeafHash(0)})
		if bad := setBad(t, it, nil, map[int]Hash{0: crypt.MerkleEmptyLeafHash(1)}); bad.Index != 0 {
			t.Errorf("Index %d", bad.Index)
		}
	}
	// One leaf: the leaf is the root.
	leaf := leafHashes(1)[0]
	it := NewIncomplete(1)
	if got := it.NeededHashes(0, true); !slices.Equal(got, []int{0}) {
		t.Errorf("needed = %v", got)
	}
	setOK(t, it, nil, map[int]Hash{0: leaf})
	if h, _ := it.Get(0); h != leaf {
		t.Errorf("root is not the leaf")
	}
}

// TestHuge uses the largest tree allowed, which is stored sparsely, and one
// too large to use.
func TestHuge(t *testing.T) {
	it := NewIncomplete(MaxLeaves)
	if it.NumLeaves() != MaxLeaves {
		t.Fatalf("NumLeaves = %d", it.NumLeaves())
	}
	leaf := MaxLeaves - 12345
	idx := it.NeededHashes(leaf, true)
	if len(idx) != bitsOf(MaxLeaves)+1 {
		t.Fatalf("needed %d hashes", len(idx))
	}
	hashes := make(map[int]Hash)
	for i, k := range idx {
		hashes[k] = crypt.MerkleEmptyLeafHash(i)
	}
	setOK(t, it, hashes, nil)
	if _, ok := it.Get(0); !ok {
		t.Fatalf("root not computed")
	}
	k := idx[len(idx)-1]
	if bad := setBad(t, it, map[int]Hash{k: {}}, nil); bad.Index != k {
		t.Errorf("Index %d", bad.Index)
	}

	var zero IncompleteTree
	if err := zero.SetHashes(nil, map[int]Hash{0: {}}); !errors.Is(err, ErrIndex) || zero.NeededHashes(0, true) != nil {
		t.Errorf("zero IncompleteTree: err = %v", err)
	}

	tooBig := NewIncomplete(MaxLeaves + 1)
	if tooBig.NumLeaves() != 0 || tooBig.NeededHashes(0, true) != nil {
		t.Errorf("too-large tree has a shape")
	}
	if _, ok := tooBig.Get(0); ok {
		t.Errorf("too-large tree has a root")
	}
	if err := tooBig.SetHashes(map[int]Hash{0: {}}, nil); !errors.Is(err, ErrIndex) {
		t.Errorf("too-large tree: err = %v", err)
	}
}

// bitsOf returns log2 of a power of two.
func bitsOf(p int) int {
	n := 0
	for p > 1 {
		p >>= 1
		n++
	}
	return n
}

func TestBadHashErrorMessage(t *testing.T) {
	tree := New(leafHashes(8))
	it := NewIncomplete(8)
	setOK(t, it, chain(tree, tree.NeededHashes(0, true)), nil)
	err := setBad(t, it, nil, map[int]Hash{0: {}})
	if msg := err.Error(); !strings.Contains(msg, "node 7 of 15 (leaf 0 of 8)") {
		t.Errorf("conflict message %q does not name node 7 / leaf 0", msg)
	}

	it = NewIncomplete(8)
	setOK(t, it, map[int]Hash{0: tree.Root()}, nil)
	hashes := chain(tree, tree.NeededHashes(1, true))
	hashes[8] = Hash{}
	err = setBad(t, it, hashes, nil)
	msg := err.Error()
	for _, want := range []string{"node 0 of 15", "children 1 and 2", "node 2, node 4, node 7 (leaf 0), node 8 (leaf 1) is wrong"} {
		if !strings.Contains(msg, want) {
			t.Errorf("mismatch message %q lacks %q", msg, want)
		}
	}

	if msg := (&BadHashError{Index: 3}).Error(); !strings.Contains(msg, "node 3") {
		t.Errorf("bare error message %q", msg)
	}
}

// FuzzSetHashes drives an IncompleteTree with arbitrary calls, honest and
// corrupt. It must never panic, failed calls must change nothing, the known
// hashes must always be consistent, and once the true root is known no
// false hash may ever be accepted.
func FuzzSetHashes(f *testing.F) {
	f.Add(int8(6), true, []byte{1, 0, 0, 0, 1, 3, 0, 1})
	f.Add(int8(8), false, []byte{0, 7, 0, 0, 3, 1, 0, 0, 2, 200, 255, 4})
	f.Add(int8(0), true, []byte{3, 0, 0, 0, 3, 0, 0, 5})
	f.Add(int8(-4), false, []byte{1, 255, 255, 0})
	f.Add(int8(33), true, []byte{1, 20, 0, 0, 1, 21, 0, 9, 0, 1, 0, 2})
	f.Fuzz(func(t *testing.T, numLeaves int8, setRoot bool, ops []byte) {
		n := int(numLeaves)
		tree := New(leafHashes(max(n, 0)))
		it := NewIncomplete(n)
		p := it.NumLeaves()
		if p != tree.NumLeaves() || it.size() != len(tree) || Size(n) != len(tree) {
			t.Fatalf("shape mismatch for %d leaves", n)
		}
		truth := func(k int) Hash {
			if k >= 0 && k < len(tree) {
				return tree[k]
			}
			return Hash{byte(k)}
		}
		if setRoot {
			setOK(t, it, map[int]Hash{0: tree.Root()}, nil)
		}
		for ; len(ops) >= 4; ops = ops[4:] {
			op, idx, corrupt := ops[0], int(int16(uint16(ops[1])|uint16(ops[2])<<8)), ops[3]
			hashes, leaves := map[int]Hash{}, map[int]Hash{}
			switch op % 4 {
			case 0: // one node
				hashes[idx] = truth(idx)
			case 1: // a leaf with the chain it still needs
				for _, k := range it.NeededHashes(idx, false) {
					hashes[k] = truth(k)
				}
				leaves[idx] = truth(p - 1 + idx)
			case 2: // queries only
				if h, ok := it.Get(idx); ok && setRoot && h != tree[idx] {
					t.Fatalf("node %d holds a false hash", idx)
				}
				got := it.NeededHashes(idx, op&4 != 0)
				if (got == nil) != (idx < 0 || idx >= p) {
					t.Fatalf("NeededHashes(%d) = %v in a tree of %d leaves", idx, got, p)
				}
				continue
			case 3: // a leaf alone
				leaves[idx] = truth(p - 1 + idx)
			}
			if corrupt != 0 {
				keys := slices.Sorted(maps.Keys(hashes))
				if len(keys) > 0 && corrupt&1 == 0 {
					k := keys[int(corrupt)%len(keys)]
					hashes[k] = flip(hashes[k], int(corrupt))
				} else if h, ok := leaves[idx]; ok {
					leaves[idx] = flip(h, int(corrupt))
				}
			}

			before := snapshot(it)
			err := it.SetHashes(hashes, leaves)
			if err != nil {
				if !errors.Is(err, ErrBadHash) && !errors.Is(err, ErrNotEnoughHashes) && !errors.Is(err, ErrIndex) {
					t.Fatalf("unclassified error %v", err)
				}
				var bad *BadHashError
				if errors.As(err, &bad) {
					if bad.Index < 0 || bad.Index >= len(tree) || len(bad.Suspects) == 0 {
						t.Fatalf("implausible %#v", bad)
					}
					for _, s := range bad.Suspects {
						_, inHashes := hashes[s]
						_, inLeaves := leaves[s-(p-1)]
						if !inHashes && !(s >= p-1 && inLeaves) {
							t.Fatalf("suspect %d was not supplied", s)
						}
					}
					if corrupt == 0 && setRoot {
						t.Fatalf("honest hashes rejected: %v", err)
					}
				}
				if !maps.Equal(before, snapshot(it)) {
					t.Fatalf("failed SetHashes changed the tree")
				}
				continue
			}
			// Consistency of everything known.
			for k, h := range snapshot(it) {
				if setRoot && h != tree[k] {
					t.Fatalf("false hash accepted at node %d", k)
				}
				if k == 0 {
					continue
				}
				sib, ok := it.Get(sibling(k))
				if !ok {
					t.Fatalf("node %d known without its sibling", k)
				}
				par, ok := it.Get(parent(k))
				if !ok {
					t.Fatalf("node %d known without its parent", k)
				}
				l, r := h, sib
				if k%2 == 0 {
					l, r = sib, h
				}
				if crypt.MerkleInternalHash(l, r) != par {
					t.Fatalf("node %d's parent does not match", k)
				}
			}
		}
	})
}
