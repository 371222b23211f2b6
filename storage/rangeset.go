package storage

import (
	"slices"

	"github.com/lafs/lafs"
)

// rangeSet is a set of byte offsets kept as sorted, disjoint, non-adjacent
// half-open ranges: the parts of an immutable share written so far
// (BucketWriter's RangeMap).
type rangeSet []lafs.ByteRange

// add inserts [b, e), merging what it touches.
func (r *rangeSet) add(b, e uint64) {
	if b >= e {
		return
	}
	s := *r
	// First range that ends at or after b, last that begins at or before e.
	i, _ := slices.BinarySearchFunc(s, b, func(x lafs.ByteRange, t uint64) int {
		if x.End < t {
			return -1
		}
		return 1
	})
	j := i
	for j < len(s) && s[j].Begin <= e {
		b = min(b, s[j].Begin)
		e = max(e, s[j].End)
		j++
	}
	*r = slices.Replace(s, i, j, lafs.ByteRange{Begin: b, End: e})
}

// overlaps returns the parts of [b, e) that the set holds.
func (r rangeSet) overlaps(b, e uint64) []lafs.ByteRange {
	var out []lafs.ByteRange
	for _, x := range r {
		if x.End <= b {
			continue
		}
		if x.Begin >= e {
			break
		}
		out = append(out, lafs.ByteRange{Begin: max(b, x.Begin), End: min(e, x.End)})
	}
	return out
}

// missing returns the parts of [0, size) that the set lacks.
func (r rangeSet) missing(size uint64) []lafs.ByteRange {
	out := []lafs.ByteRange{}
	at := uint64(0)
	for _, x := range r {
		if x.Begin >= size {
			break
		}
		if x.Begin > at {
			out = append(out, lafs.ByteRange{Begin: at, End: x.Begin})
		}
		at = max(at, x.End)
	}
	if at < size {
		out = append(out, lafs.ByteRange{Begin: at, End: size})
	}
	return out
}

// covers reports whether the set holds all of [0, size).
func (r rangeSet) covers(size uint64) bool {
	return size == 0 || len(r) > 0 && r[0].Begin == 0 && r[0].End >= size
}
