package mutable

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/lafs/lafs"
)

// versionLabel is Tahoe's short name of a version (summarize_version):
// "seq4-qait", the seqnum and the first four base32 characters of the
// root hash.
func versionLabel(h *Header) string {
	return fmt.Sprintf("seq%d-%s", h.Seqnum, lafs.Base32(h.RootHash[:])[:4])
}

// shortName is Tahoe's short name of a server (get_name): the first
// eight characters of its id, after "v0-".
func shortName(s *lafs.Server) string {
	id := strings.TrimPrefix(s.ID, "v0-")
	return id[:min(len(id), 8)]
}

// counted are the good shares the result counts: the verified ones
// (all the good ones when not verifying), grouped by version, best first.
func (c *checker) counted() []*version {
	m := *c.m
	m.shares = slices.DeleteFunc(slices.Clone(c.m.shares), func(rs *remoteShare) bool { return c.unverified[rs] != nil })
	return m.versions()
}

// healthOf splits versions into recoverable and unrecoverable ones (each
// best first).
func healthOf(vs []*version) (rec, unrec []*version) {
	for _, v := range vs {
		if v.recoverable() {
			rec = append(rec, v)
		} else {
			unrec = append(unrec, v)
		}
	}
	return rec, unrec
}

// needsRepair is Tahoe's need_repair: the file is not healthy, or bad
// shares were found.
func (c *checker) needsRepair(r *lafs.CheckResult) bool {
	return !r.Healthy || len(c.m.bad) > 0
}

// result makes the check's result as Tahoe's _make_checker_results does:
// healthy when exactly one version is recoverable, none is not, and the
// best has N distinct shares.
func (c *checker) result() *lafs.CheckResult {
	vs := c.counted()
	rec, unrec := healthOf(vs)
	r := &lafs.CheckResult{StorageIndex: c.f.si, Recoverable: len(rec) > 0,
		RecoverableVersions: len(rec), UnrecoverableVersions: len(unrec), ShareMap: map[string][]string{}}
	healthy := true
	var summary []string
	listVersions := func(what string, l []*version) {
		if len(l) == 0 {
			return
		}
		var parts []string
		for _, v := range l {
			parts = append(parts, fmt.Sprintf("%d*%s", len(v.shares), versionLabel(v.hdr)))
		}
		r.Report = append(r.Report, what+": "+strings.Join(parts, "/"))
	}
	listVersions("Recoverable Versions", rec)
	listVersions("Unrecoverable Versions", unrec)
	if len(unrec) > 0 {
		healthy = false
		summary = append(summary, "some versions are unrecoverable")
		r.Report = append(r.Report, "Unhealthy: some versions are unrecoverable")
	}
	if len(rec) == 0 {
		healthy = false
		summary = append(summary, "no versions are recoverable")
		r.Report = append(r.Report, "Unhealthy: no versions are recoverable")
	}
	if len(rec) > 1 {
		healthy = false
		summary = append(summary, "multiple versions are recoverable")
		r.Report = append(r.Report, "Unhealthy: there are multiple recoverable versions")
	}
	var counted *version
	switch {
	case len(rec) > 0:
		counted = rec[0]
		r.Report = append(r.Report, "Best Recoverable Version: "+versionLabel(counted.hdr))
	case len(unrec) > 0:
		counted = unrec[0] // for k and N; not the best, which does not exist
	default:
		r.SharesNeeded, r.SharesExpected = 3, 10 // Tahoe's arbitrary defaults
	}
	if counted != nil {
		h := counted.hdr
		r.SharesNeeded, r.SharesExpected, r.GoodShares = h.K, h.N, counted.distinct()
		var hosts []*lafs.Server
		for _, rs := range counted.shares {
			if !slices.Contains(hosts, rs.server) {
				hosts = append(hosts, rs.server)
			}
		}
		r.GoodShareHosts = len(hosts)
		for _, v := range vs {
			if v != counted {
				r.WrongShares += len(v.shares)
			}
		}
		if len(rec) > 0 && r.GoodShares < h.N {
			healthy = false
			r.Report = append(r.Report, fmt.Sprintf("Unhealthy: best version has only %d shares (encoding is %d-of-%d)", r.GoodShares, h.K, h.N))
			summary = append(summary, fmt.Sprintf("%d shares (enc %d-of-%d)", r.GoodShares, h.K, h.N))
		}
	}
	if len(c.m.bad) > 0 {
		r.Report = append(r.Report, "Corrupt Shares:")
		summary = append(summary, "Corrupt Shares:")
	}
	bad, moreBad := capPerServer(c.m.bad, shareServer)
	for _, rs := range bad {
		r.Corrupt = append(r.Corrupt, c.location(rs))
		name := fmt.Sprintf("%s-sh%d", shortName(rs.server), rs.shnum)
		r.Report = append(r.Report, fmt.Sprintf(" %s: %s", name, reason(rs.err)))
		summary = append(summary, name)
	}
	for _, m := range moreBad {
		r.Report = append(r.Report, fmt.Sprintf(" and %d more bad shares on %s, not named", m.n, m.server.String()))
		summary = append(summary, fmt.Sprintf("(%d more on %s)", m.n, shortName(m.server)))
	}
	if len(c.incompat) > 0 {
		r.Report = append(r.Report, "Incompatible Shares (of a format this client does not know):")
	}
	incompat, moreIncompat := capPerServer(c.incompat, shareServer)
	for _, rs := range incompat {
		r.Incompatible = append(r.Incompatible, c.location(rs))
		r.Report = append(r.Report, fmt.Sprintf(" %s-sh%d: %s", shortName(rs.server), rs.shnum, reason(rs.err)))
	}
	for _, m := range moreIncompat {
		r.Report = append(r.Report, fmt.Sprintf(" and %d more on %s, not named", m.n, m.server.String()))
	}
	for _, v := range vs {
		label := versionLabel(v.hdr)
		for _, rs := range v.shares {
			id := fmt.Sprintf("%s-sh%d", label, rs.shnum)
			if !slices.Contains(r.ShareMap[id], rs.server.ID) {
				r.ShareMap[id] = append(r.ShareMap[id], rs.server.ID)
			}
		}
	}
	r.Happiness = happiness(r.ShareMap)
	r.Healthy = healthy
	if healthy {
		r.Summary = "Healthy"
	} else {
		r.Summary = "Unhealthy: " + strings.Join(summary, " ")
	}
	for _, s := range c.m.servers {
		if c.responded[s] {
			r.ServersResponding = append(r.ServersResponding, s.ID)
		}
	}
	r.Report = append(r.Report, c.notes...)
	return r
}

// location names a share of the file.
func (c *checker) location(rs *remoteShare) lafs.ShareLocation {
	return lafs.ShareLocation{Server: rs.server.ID, StorageIndex: c.f.si, Num: rs.shnum}
}

// reason is why a share is bad, without the sentinel's words.
func reason(err error) string {
	return strings.TrimPrefix(err.Error(), ErrBadShare.Error()+": ")
}

// happiness is Tahoe's servers_of_happiness of a share map: the size of a
// maximum matching between the shares (here Tahoe's mutable share labels)
// and the servers that hold them.
func happiness(sharemap map[string][]string) int {
	labels := slices.Sorted(maps.Keys(sharemap))
	owner := map[string]string{} // server -> label
	var try func(label string, seen map[string]bool) bool
	try = func(label string, seen map[string]bool) bool {
		for _, s := range sharemap[label] {
			if seen[s] {
				continue
			}
			seen[s] = true
			if o, taken := owner[s]; !taken || try(o, seen) {
				owner[s] = label
				return true
			}
		}
		return false
	}
	n := 0
	for _, l := range labels {
		if try(l, map[string]bool{}) {
			n++
		}
	}
	return n
}
