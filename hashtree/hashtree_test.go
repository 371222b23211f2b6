package hashtree

import (
	"slices"
	"strconv"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
)

// leafHashes returns the leaves Tahoe's test_hashtree.py uses:
// tagged_hash("tag", str(i)) for i in range(n).
func leafHashes(n int) []Hash {
	out := make([]Hash, n)
	for i := range out {
		out[i] = crypt.TaggedHash("tag", []byte(strconv.Itoa(i)))
	}
	return out
}

// TestWellKnownTree checks New against the known answer in Tahoe's
// test_hashtree.py (test_well_known_tree): the whole tree over three leaves.
func TestWellKnownTree(t *testing.T) {
	want := []string{
		"vxuqudnucceja4pqkdqy5txapagxubm5moupzqywkbg2jrjkaola",
		"weycjri4jlcaunca2jyx2kr7sbtb7qdriog3f26g5jpc5awfeazq",
		"5ovy3g2wwjnxoqtja4licckxkbqjef4xsjtclk6gxnsl66kvow6a",
		"esd34nbzri75l3j2vwetpk3dvlvsxstkbaktomonrulpks3df3sq",
		"jkxbwa2tppyfax35o72tbjecxvaa4xphma6zbyfbkkku3ed2657a",
		"wfisavaqgab2raihe7dld2qjps4rtxyiubgfs5enziokey2msjwa",
		"t3kza5vwx3tlowdemmgdyigp62ju57qduyfh7uulnfkc7mj2ncrq",
	}
	tree := New(leafHashes(3))
	if len(tree) != len(want) {
		t.Fatalf("len = %d, want %d", len(tree), len(want))
	}
	for i, h := range tree {
		if got := lafs.Base32(h[:]); got != want[i] {
			t.Errorf("node %d = %s, want %s", i, got, want[i])
		}
	}
	if tree.Root() != tree[0] || tree.NumLeaves() != 4 {
		t.Errorf("Root/NumLeaves inconsistent: NumLeaves = %d", tree.NumLeaves())
	}
}

func TestNewSmall(t *testing.T) {
	empty := New(nil)
	if len(empty) != 1 || empty.Root() != crypt.MerkleEmptyLeafHash(0) || empty.NumLeaves() != 1 {
		t.Errorf("New(nil) = %x, want the single empty leaf 0", empty)
	}
	one := leafHashes(1)
	if tr := New(one); len(tr) != 1 || tr.Root() != one[0] {
		t.Errorf("New(one leaf) = %x, want just the leaf", tr)
	}
	two := leafHashes(2)
	if tr := New(two); len(tr) != 3 || tr.Root() != crypt.MerkleInternalHash(two[0], two[1]) {
		t.Errorf("New(two leaves) = %x", tr)
	}
	// Tahoe's make_tree(8): leaf 0 is node 7.
	if tr := New(leafHashes(8)); tr[7] != leafHashes(1)[0] {
		t.Errorf("leaf 0 of 8 is not node 7")
	}
	var zero Tree
	if zero.Root() != (Hash{}) || zero.NumLeaves() != 0 || zero.NeededHashes(0, true) != nil {
		t.Errorf("nil Tree misbehaves")
	}
	if bad := (Tree{{1}, {2}}); bad.NeededHashes(0, true) != nil {
		t.Errorf("malformed Tree gave needed hashes")
	}
}

// slowNode computes the hash of the node covering padded leaves [lo, hi)
// recursively, independently of New's breadth-first loop.
func slowNode(padded []Hash, lo, hi int) Hash {
	if hi-lo == 1 {
		return padded[lo]
	}
	mid := (lo + hi) / 2
	return crypt.MerkleInternalHash(slowNode(padded, lo, mid), slowNode(padded, mid, hi))
}

func TestNewMatchesRecursive(t *testing.T) {
	sizes := []int{100, 1000, 1025}
	for n := 0; n <= 40; n++ {
		sizes = append(sizes, n)
	}
	for _, n := range sizes {
		leaves := leafHashes(n)
		p := 1
		for p < n {
			p *= 2
		}
		padded := slices.Clone(leaves)
		for j := n; j < p; j++ {
			padded = append(padded, crypt.MerkleEmptyLeafHash(j))
		}
		tree := New(leaves)
		if len(tree) != 2*p-1 || len(tree) != Size(n) || tree.NumLeaves() != p {
			t.Fatalf("n=%d: len %d, Size %d, NumLeaves %d; want P=%d", n, len(tree), Size(n), tree.NumLeaves(), p)
		}
		// Node (2^d - 1 + k) covers the k-th run of P/2^d leaves.
		for d, width := 0, p; width >= 1; d, width = d+1, width/2 {
			for k := 0; k < p/width; k++ {
				idx := 1<<d - 1 + k
				if want := slowNode(padded, k*width, (k+1)*width); tree[idx] != want {
					t.Fatalf("n=%d: node %d differs from the recursive computation", n, idx)
				}
			}
		}
	}
}

func TestSize(t *testing.T) {
	for _, tc := range []struct{ n, want int }{
		{-5, 1}, {0, 1}, {1, 1}, {2, 3}, {3, 7}, {4, 7}, {5, 15}, {8, 15}, {9, 31},
		{10, 31}, {8192, 16383}, {8193, 32767},
		{MaxLeaves, 2*MaxLeaves - 1}, {MaxLeaves + 1, 0},
	} {
		if got := Size(tc.n); got != tc.want {
			t.Errorf("Size(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

func TestNeededHashes(t *testing.T) {
	for _, tc := range []struct {
		numLeaves, leaf int
		includeLeaf     bool
		want            []int
	}{
		// From Tahoe's test_hashtree.py.
		{8, 0, false, []int{2, 4, 8}},
		{8, 0, true, []int{2, 4, 7, 8}},
		{8, 1, false, []int{2, 4, 7}},
		{8, 7, false, []int{1, 5, 13}},
		{8, 7, true, []int{1, 5, 13, 14}},
		{1, 0, false, []int{}},
		{6, 0, false, []int{2, 4, 8}},
		{6, 0, true, []int{2, 4, 7, 8}},
		{6, 1, false, []int{2, 4, 7}},
		{6, 5, false, []int{1, 6, 11}},
		{6, 5, true, []int{1, 6, 11, 12}},
		// P=16: leaf 0 is node 15, its path is 15, 7, 3, 1 (then the root)
		// and their siblings are 16, 8, 4, 2.
		{10, 0, false, []int{2, 4, 8, 16}},
		{10, 0, true, []int{2, 4, 8, 15, 16}},
		// Leaf 9 is node 24: path 24, 11, 5, 2; siblings 23, 12, 6, 1.
		{10, 9, true, []int{1, 6, 12, 23, 24}},
		// Padding leaves are leaves too (Tahoe allows them).
		{6, 6, false, []int{1, 5, 14}},
		{10, 15, false, []int{1, 5, 13, 29}},
		{2, 1, true, []int{1, 2}},
		{1, 0, true, []int{0}},
		{0, 0, false, []int{}},
		{0, 0, true, []int{0}},
		{-1, 0, true, []int{0}},
		// Out of range.
		{8, -1, false, nil},
		{8, 8, true, nil},
		{6, 8, false, nil},
		{0, 1, true, nil},
		{MaxLeaves + 1, 0, false, nil},
	} {
		got := NeededHashes(tc.numLeaves, tc.leaf, tc.includeLeaf)
		if !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("NeededHashes(%d, %d, %v) = %v, want %v", tc.numLeaves, tc.leaf, tc.includeLeaf, got, tc.want)
		}
		if tc.numLeaves > 100 {
			continue
		}
		n := max(tc.numLeaves, 0)
		if got := New(leafHashes(n)).NeededHashes(tc.leaf, tc.includeLeaf); !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("Tree(%d).NeededHashes(%d, %v) = %v, want %v", n, tc.leaf, tc.includeLeaf, got, tc.want)
		}
		if got := NewIncomplete(tc.numLeaves).NeededHashes(tc.leaf, tc.includeLeaf); !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("IncompleteTree(%d).NeededHashes(%d, %v) = %v, want %v", tc.numLeaves, tc.leaf, tc.includeLeaf, got, tc.want)
		}
	}
}

// TestNeededHashesSuffice recomputes the root of trees of many sizes from
// each leaf and only the hashes NeededHashes names.
func TestNeededHashesSuffice(t *testing.T) {
	for n := 0; n <= 70; n++ {
		tree := New(leafHashes(n))
		p := tree.NumLeaves()
		for leaf := range p {
			needed := NeededHashes(n, leaf, true)
			if len(needed) != depth(len(tree)-1)+1 || !slices.IsSorted(needed) {
				t.Fatalf("n=%d leaf=%d: needed %v", n, leaf, needed)
			}
			have := make(map[int]Hash)
			for _, k := range needed {
				have[k] = tree[k]
			}
			k := p - 1 + leaf
			h, ok := have[k]
			if !ok {
				t.Fatalf("n=%d leaf=%d: leaf node %d not included", n, leaf, k)
			}
			for k > 0 {
				s, ok := have[sibling(k)]
				if !ok {
					t.Fatalf("n=%d leaf=%d: sibling of %d missing from %v", n, leaf, k, needed)
				}
				if k%2 == 1 {
					h = crypt.MerkleInternalHash(h, s)
				} else {
					h = crypt.MerkleInternalHash(s, h)
				}
				k = parent(k)
			}
			if h != tree.Root() {
				t.Fatalf("n=%d leaf=%d: chain does not reach the root", n, leaf)
			}
		}
	}
}

func BenchmarkNew(b *testing.B) {
	leaves := leafHashes(8192)
	b.ReportAllocs()
	for b.Loop() {
		New(leaves)
	}
}
