package immutable

import "sort"

// Share placement by servers-of-happiness, after Tahoe's
// immutable/happiness_upload.py and docs/specifications/servers-of-happiness.rst.
// Servers are named by their index in the permuted server list, so every
// choice below is deterministic and prefers servers early in that list.

// matching finds a maximum bipartite matching between servers and shares.
// edges[s] lists the shares server s may hold; only servers in use and
// shares in want take part. It returns share -> server for matched shares.
func matching(servers []int, want []int, edges func(server, share int) bool) map[int]int {
	shareTo := map[int]int{}  // share -> server
	serverTo := map[int]int{} // server -> share
	var try func(s int, seen map[int]bool) bool
	try = func(s int, seen map[int]bool) bool {
		for _, sh := range want {
			if !edges(s, sh) || seen[sh] {
				continue
			}
			seen[sh] = true
			owner, taken := shareTo[sh]
			if !taken || try(owner, seen) {
				shareTo[sh] = s
				serverTo[s] = sh
				return true
			}
		}
		return false
	}
	for _, s := range servers {
		try(s, map[int]bool{})
	}
	return shareTo
}

// Happiness is the servers-of-happiness of a placement: the size of a
// maximum matching between servers and the shares they hold.
func Happiness(holds map[int][]int) int {
	var servers []int
	shareSet := map[int]bool{}
	for s, shs := range holds {
		servers = append(servers, s)
		for _, sh := range shs {
			shareSet[sh] = true
		}
	}
	sort.Ints(servers)
	var shares []int
	for sh := range shareSet {
		shares = append(shares, sh)
	}
	sort.Ints(shares)
	has := func(s, sh int) bool {
		for _, x := range holds[s] {
			if x == sh {
				return true
			}
		}
		return false
	}
	return len(matching(servers, shares, has))
}

// placeShares decides which server each of the shares 0..n-1 goes to.
// servers are indexes into the permuted list (in that order); readOnly
// marks servers that can take no new shares; existing says which shares
// each server already holds. A share placed on a server that already holds
// it means "renew the lease there". Shares are never placed on read-only
// servers except where they already are, nor on a server where blocked
// says the share cannot go (nil: anywhere); -1 means no home was found.
func placeShares(servers []int, readOnly map[int]bool, n int, existing map[int][]int, blocked func(server, share int) bool) map[int]int {
	if blocked == nil {
		blocked = func(int, int) bool { return false }
	}
	placement := map[int]int{}
	if len(servers) == 0 {
		for sh := 0; sh < n; sh++ {
			placement[sh] = -1
		}
		return placement
	}
	holds := func(s, sh int) bool {
		for _, x := range existing[s] {
			if x == sh {
				return true
			}
		}
		return false
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	usedServer := map[int]bool{}
	take := func(m map[int]int) {
		for sh, s := range m {
			placement[sh] = s
			usedServer[s] = true
		}
	}
	remainingShares := func() []int {
		var out []int
		for _, sh := range all {
			if _, ok := placement[sh]; !ok {
				out = append(out, sh)
			}
		}
		return out
	}
	pick := func(f func(s int) bool) []int {
		var out []int
		for _, s := range servers {
			if !usedServer[s] && f(s) {
				out = append(out, s)
			}
		}
		return out
	}
	// 1. Read-only servers, matched to the shares they already hold.
	take(matching(pick(func(s int) bool { return readOnly[s] }), all, holds))
	// 2. Writable servers, matched to shares they already hold.
	take(matching(pick(func(s int) bool { return !readOnly[s] }), remainingShares(), holds))
	// 3. Remaining writable servers, matched to any remaining share.
	take(matching(pick(func(s int) bool { return !readOnly[s] }), remainingShares(), func(s, sh int) bool { return !blocked(s, sh) }))

	// Homeless shares: back where they already are if a writable server
	// has them, else spread over writable servers that hold shares,
	// fewest first; whatever is left goes round-robin over writable servers.
	homeless := remainingShares()
	if len(homeless) == 0 {
		return placement
	}
	var holders []int
	for _, s := range servers {
		if !readOnly[s] && len(existing[s]) > 0 {
			holders = append(holders, s)
		}
	}
	var toDistribute []int
	for _, sh := range homeless {
		placed := false
		for _, s := range holders {
			if holds(s, sh) {
				placement[sh] = s
				placed = true
				break
			}
		}
		if !placed {
			toDistribute = append(toDistribute, sh)
		}
	}
	if len(holders) > 0 {
		load := map[int]int{}
		for _, s := range placement {
			load[s]++
		}
		for _, sh := range toDistribute {
			best := -1
			for _, s := range holders {
				if !blocked(s, sh) && (best < 0 || load[s] < load[best]) {
					best = s
				}
			}
			placement[sh] = best
			if best >= 0 {
				load[best]++
			}
		}
		return placement
	}
	var writable []int
	for _, s := range servers {
		if !readOnly[s] {
			writable = append(writable, s)
		}
	}
	for i, sh := range toDistribute {
		placement[sh] = -1
		for j := range writable {
			if s := writable[(i+j)%len(writable)]; !blocked(s, sh) {
				placement[sh] = s
				break
			}
		}
	}
	return placement
}
