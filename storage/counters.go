package storage

import (
	"errors"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/lafs/lafs"
)

// What a Server counts of its work, for the node's /statistics page, as
// Tahoe's storage server counts it (its count and add_latency, reported
// by get_stats as storage_server.<name> and
// storage_server.latencies.<category>.<stat>). The operations map onto
// Tahoe's as its HTTP storage server calls them:
//
//   - allocate: every AllocateBuckets;
//   - write: every 64 KiB of data written by a WriteImmutable that
//     succeeds (Tahoe's HTTP server hands a PATCH's body to its
//     BucketWriter 64 KiB at a time, counting each);
//   - close: the write that completes a share, which also adds the size
//     of the new container (header, data and lease) to bytes_added;
//   - abort: every upload dropped (aborted by its client, idle for 30
//     minutes, failed, or cut off by Close), adding 0 to bytes_added;
//   - get: every ListImmutable and ReadImmutable, and the AbortImmutable
//     calls that look for a complete share (Tahoe's get_buckets, which its
//     HTTP server calls for each of those, and for an advisory of a
//     corrupt immutable share, for which storagehttp calls ListImmutable);
//   - read: every 64 KiB of immutable share data read;
//   - writev: every ReadTestWrite;
//   - readv: every 64 KiB of mutable share data read by ReadMutable (none
//     for a share the server does not hold, nor for an empty read);
//   - add-lease: every AddOrRenewLease on a storage index with shares.
//
// Tahoe's renew and cancel belong to its Foolscap protocol only, so they
// never happen here, as they never do on a Tahoe server reached over HTTP.
// Like Tahoe, a counter appears once it has counted something.
//
// Every operation counted is also timed, but for abort: the time of the
// call (the look-up of the share for get, the read for read; the write
// of a completing call without its close, which is timed apart), split
// evenly among its 64 KiB pieces for write, read and readv. The last 1000
// times of each kind are kept, and summarized as Tahoe's get_latencies
// does.

// counterChunk is the piece of data that counts as one write, read or
// readv: what Tahoe's HTTP storage server handles at a time.
const counterChunk = 64 << 10

// latencySamples is how many of the latest times of each kind are kept.
const latencySamples = 1000

// counterOp is a kind of storage operation that is counted.
type counterOp int

// The operations counted, in the order of Tahoe's latency categories.
// Those before opAbort are timed too.
const (
	opAllocate counterOp = iota
	opWrite
	opClose
	opRead
	opGet
	opWritev
	opReadv
	opAddLease
	opAbort
	numCounterOps
)

// counterNames are Tahoe's names of the operations.
var counterNames = [numCounterOps]string{
	opAllocate: "allocate",
	opWrite:    "write",
	opClose:    "close",
	opRead:     "read",
	opGet:      "get",
	opWritev:   "writev",
	opReadv:    "readv",
	opAddLease: "add-lease",
	opAbort:    "abort",
}

// counters holds what a Server counted. The zero value is ready; all
// methods are safe for concurrent use.
type counters struct {
	// now is the clock of the times; nil means time.Now. Tests set it.
	now func() time.Time

	mu         sync.Mutex
	counts     [numCounterOps]int64
	counted    [numCounterOps]bool
	bytesAdded int64
	added      bool // bytesAdded has been counted
	// times holds the latest times of each timed kind, in seconds, as a
	// ring: next is where the next one goes once it is full.
	times [opAbort]latencyRing
}

// latencyRing keeps the latest latencySamples times.
type latencyRing struct {
	s    []float64
	next int
}

func (r *latencyRing) add(v float64) {
	if len(r.s) < latencySamples {
		r.s = append(r.s, v)
		return
	}
	r.s[r.next] = v
	r.next = (r.next + 1) % latencySamples
}

// clock returns the time now, for the start of an operation.
func (c *counters) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// start counts one op and returns its start, for done.
func (c *counters) start(op counterOp) time.Time {
	c.count(op, 1)
	return c.clock()
}

// timed counts one op now and returns the func that records its time:
// defer c.timed(op)() at the top of an operation.
func (c *counters) timed(op counterOp) func() {
	t := c.start(op)
	return func() { c.done(op, t) }
}

// count adds n to op's counter, making it appear.
func (c *counters) count(op counterOp, n int64) {
	c.mu.Lock()
	c.counts[op] += n
	c.counted[op] = true
	c.mu.Unlock()
}

// done records the time since start as one time of op.
func (c *counters) done(op counterOp, start time.Time) {
	d := c.clock().Sub(start).Seconds()
	c.mu.Lock()
	c.times[op].add(d)
	c.mu.Unlock()
}

// chunks counts an operation on size bytes that began at start as one op
// per 64 KiB piece (none for no bytes), each taking an even share of its
// time.
func (c *counters) chunks(op counterOp, start time.Time, size int) {
	n := (size + counterChunk - 1) / counterChunk
	if n == 0 {
		return
	}
	d := c.clock().Sub(start).Seconds() / float64(n)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[op] += int64(n)
	c.counted[op] = true
	for range n {
		c.times[op].add(d)
	}
}

// addBytes counts n bytes in bytes_added (0 for an aborted upload).
func (c *counters) addBytes(n int64) {
	c.mu.Lock()
	c.bytesAdded += n
	c.added = true
	c.mu.Unlock()
}

// Counters are what a Server counted of its operations since it was made,
// as Tahoe's storage server counts them (see Server.Counters).
type Counters struct {
	// Counts are keyed by Tahoe's names: "allocate", "write", "close",
	// "abort", "get", "read", "writev", "readv", "add-lease" and
	// "bytes_added" (the bytes of the containers of the shares uploaded).
	// A name is there once it has been counted.
	Counts map[string]int64
	// Latencies summarize the latest times of each kind of operation,
	// keyed by the same names (but for abort and bytes_added), for the
	// kinds that have happened.
	Latencies map[string]Latency
}

// Latency summarizes the latest times of one kind of operation, in
// seconds, as Tahoe's get_latencies: the value at index
// int(p*SampleSize) of the sorted times for each percentile p, when there
// are enough times for it to mean something (100 for the 1st and 99th
// percentile, 10 for the 10th, 50th and 90th, 20 for the 95th, 1000 for
// the 99.9th); NaN, Tahoe's None, otherwise.
type Latency struct {
	// SampleSize is how many times are summarized: at most 1000.
	SampleSize int
	// Mean is their mean; NaN for a single time.
	Mean float64
	// The percentiles (Tahoe's 01_0_percentile to 99_9_percentile).
	P1, P10, P50, P90, P95, P99, P999 float64
}

// Counters returns what the server counted (see Counters).
func (s *Server) Counters() Counters {
	return s.counters.snapshot()
}

func (c *counters) snapshot() Counters {
	out := Counters{Counts: map[string]int64{}, Latencies: map[string]Latency{}}
	var times [opAbort][]float64
	c.mu.Lock()
	for op := range numCounterOps {
		if c.counted[op] {
			out.Counts[counterNames[op]] = c.counts[op]
		}
	}
	if c.added {
		out.Counts["bytes_added"] = c.bytesAdded
	}
	for op := range opAbort {
		times[op] = slices.Clone(c.times[op].s)
	}
	c.mu.Unlock()
	for op, t := range times {
		if len(t) > 0 {
			out.Latencies[counterNames[op]] = summarize(t)
		}
	}
	return out
}

// summarize is get_latencies for one category; it sorts t.
func summarize(t []float64) Latency {
	slices.Sort(t)
	n := len(t)
	l := Latency{SampleSize: n, Mean: math.NaN()}
	if n > 1 {
		sum := 0.0
		for _, v := range t { // in sorted order, as Python's sum sees them
			sum += v
		}
		l.Mean = sum / float64(n)
	}
	at := func(p float64, least int) float64 {
		if n < least {
			return math.NaN()
		}
		return t[int(p*float64(n))]
	}
	l.P1 = at(0.01, 100)
	l.P10 = at(0.1, 10)
	l.P50 = at(0.50, 10)
	l.P90 = at(0.90, 10)
	l.P95 = at(0.95, 20)
	l.P99 = at(0.99, 100)
	l.P999 = at(0.999, 1000)
	return l
}

// Named returns c under the names of Tahoe's get_stats: the counters as
// "storage_server.<name>" and the latencies as
// "storage_server.latencies.<category>.<stat>", stat being mean,
// 01_0_percentile, 10_0_percentile, 50_0_percentile, 90_0_percentile,
// 95_0_percentile, 99_0_percentile, 99_9_percentile or samplesize (NaN
// standing for Tahoe's None).
func (c Counters) Named() (counts map[string]int64, stats map[string]float64) {
	counts = make(map[string]int64, len(c.Counts))
	for k, v := range c.Counts {
		counts["storage_server."+k] = v
	}
	stats = make(map[string]float64, 9*len(c.Latencies))
	for cat, l := range c.Latencies {
		p := "storage_server.latencies." + cat + "."
		stats[p+"samplesize"] = float64(l.SampleSize)
		stats[p+"mean"] = l.Mean
		stats[p+"01_0_percentile"] = l.P1
		stats[p+"10_0_percentile"] = l.P10
		stats[p+"50_0_percentile"] = l.P50
		stats[p+"90_0_percentile"] = l.P90
		stats[p+"95_0_percentile"] = l.P95
		stats[p+"99_0_percentile"] = l.P99
		stats[p+"99_9_percentile"] = l.P999
	}
	return counts, stats
}

// leaseDone counts and times an AddOrRenewLease that began at start and
// ended with *err, unless it found no share (Tahoe's HTTP server answers
// 404 before it calls add_lease then).
func (c *counters) leaseDone(start time.Time, err *error) {
	if errors.Is(*err, lafs.ErrNotExist) {
		return
	}
	c.count(opAddLease, 1)
	c.done(opAddLease, start)
}
