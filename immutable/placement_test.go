package immutable

import (
	"math/rand"
	"testing"
)

func servers(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func holdsOf(p map[int]int) map[int][]int {
	h := map[int][]int{}
	for sh, s := range p {
		if s >= 0 {
			h[s] = append(h[s], sh)
		}
	}
	return h
}

func TestPlacementSpreadsOverServers(t *testing.T) {
	for _, tc := range []struct{ servers, n, want int }{
		{10, 10, 10}, {20, 10, 10}, {5, 10, 5}, {1, 10, 1}, {3, 3, 3},
	} {
		p := placeShares(servers(tc.servers), nil, tc.n, nil, nil)
		if len(p) != tc.n {
			t.Fatalf("%+v: placed %d shares", tc, len(p))
		}
		for sh, s := range p {
			if s < 0 || s >= tc.servers {
				t.Fatalf("%+v: share %d on %d", tc, sh, s)
			}
		}
		if h := Happiness(holdsOf(p)); h != tc.want {
			t.Errorf("%+v: happiness %d, want %d", tc, h, tc.want)
		}
	}
}

func TestPlacementReusesExistingShares(t *testing.T) {
	// Every share already on its own server: nothing moves.
	existing := map[int][]int{}
	for i := 0; i < 10; i++ {
		existing[(i+3)%12] = []int{i}
	}
	p := placeShares(servers(12), nil, 10, existing, nil)
	for sh, s := range p {
		if (sh+3)%12 != s {
			t.Errorf("share %d moved to %d", sh, s)
		}
	}
	// All shares on one read-only server: it keeps one, the rest spread.
	p = placeShares(servers(10), map[int]bool{0: true}, 10, map[int][]int{0: servers(10)}, nil)
	if h := Happiness(holdsOf(p)); h != 10 {
		t.Errorf("happiness %d with a read-only holder, want 10", h)
	}
	n0 := 0
	for _, s := range p {
		if s == 0 {
			n0++
		}
	}
	if n0 != 1 {
		t.Errorf("read-only server got %d shares, want 1", n0)
	}
}

func TestPlacementNoWritableServers(t *testing.T) {
	p := placeShares(servers(3), map[int]bool{0: true, 1: true, 2: true}, 4, map[int][]int{1: {2}}, nil)
	if p[2] != 1 {
		t.Errorf("share 2 should stay on read-only server 1, got %d", p[2])
	}
	for _, sh := range []int{0, 1, 3} {
		if p[sh] != -1 {
			t.Errorf("share %d placed on %d with no writable servers", sh, p[sh])
		}
	}
}

// TestPlacementOptimal checks on random cases that the placement reaches
// the best happiness possible: min(servers usable, shares) with the
// existing shares counted.
func TestPlacementOptimal(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for iter := 0; iter < 300; iter++ {
		ns, n := 1+rng.Intn(15), 1+rng.Intn(12)
		ro := map[int]bool{}
		existing := map[int][]int{}
		for s := 0; s < ns; s++ {
			ro[s] = rng.Intn(4) == 0
			for sh := 0; sh < n; sh++ {
				if rng.Intn(6) == 0 {
					existing[s] = append(existing[s], sh)
				}
			}
		}
		p := placeShares(servers(ns), ro, n, existing, nil)
		got := Happiness(holdsOf(p))
		// Upper bound: a matching over read-only servers' existing shares
		// plus writable servers taking anything.
		edges := func(s, sh int) bool {
			if !ro[s] {
				return true
			}
			for _, x := range existing[s] {
				if x == sh {
					return true
				}
			}
			return false
		}
		best := len(matching(servers(ns), servers(n), edges))
		if got != best {
			t.Fatalf("iter %d: happiness %d, best possible %d (servers %d, shares %d, ro %v, existing %v, placement %v)",
				iter, got, best, ns, n, ro, existing, p)
		}
	}
}

// TestPlacementAvoidsBlocked: shares that a server neither took nor holds
// (an upload of the same file in progress there) go elsewhere, and the
// placement stays as happy as it can be.
func TestPlacementAvoidsBlocked(t *testing.T) {
	// Every server has its own share number in progress.
	blocked := func(s, sh int) bool { return s == sh }
	p := placeShares(servers(10), nil, 10, nil, blocked)
	if h := Happiness(holdsOf(p)); h != 10 {
		t.Errorf("happiness %d, want 10", h)
	}
	for sh, s := range p {
		if blocked(s, sh) {
			t.Errorf("share %d placed where it is blocked", sh)
		}
	}
	// One server only, blocked for share 0: share 0 has no home.
	p = placeShares(servers(1), nil, 3, nil, func(s, sh int) bool { return sh == 0 })
	if p[0] != -1 || p[1] != 0 || p[2] != 0 {
		t.Errorf("one server: %v", p)
	}
}
