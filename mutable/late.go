package mutable

import (
	"slices"
	"time"

	"github.com/lafs/lafs"
)

// A server that stops answering must cost seconds, not a request timeout.
// Queries and writes that are late against what the other servers take are
// given up on (the servermap goes on without the server; a publish places
// its shares elsewhere); block reads that are late get a twin on another
// share. A server given up on is used last for a while.
const (
	// queryLateFactor times the usual answer (at least queryLateMin) makes
	// a servermap query or a write late.
	queryLateFactor = 8
	queryLateMin    = 2 * time.Second
	// writeRate is the slowest transfer a write is allowed on top of
	// that, so that a large share is not given up on for its size.
	writeRate = 1 << 20 // bytes per second
	// readLateFactor times the usual answer (at least readLateMin) makes
	// a block read late, and worth a twin.
	readLateFactor = 4
	readLateMin    = 300 * time.Millisecond
	// usualUnknown stands for the usual answer time before any is known.
	usualUnknown = 250 * time.Millisecond
	// demoteFor is how long a server found too slow is used last.
	demoteFor = time.Minute
)

// median is the middle of ds (0 for none).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// usualOf is what the servers usually take to answer, as their Latency
// knows it: the median of what is known, or usualUnknown.
func usualOf(servers []*lafs.Server) time.Duration {
	var ds []time.Duration
	for _, s := range servers {
		if d := s.Latency.Typical(); d > 0 {
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		return usualUnknown
	}
	return median(ds)
}
