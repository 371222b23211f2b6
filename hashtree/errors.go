package hashtree

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

var (
	// ErrBadHash means supplied hashes failed verification: they conflict
	// with hashes already known, or do not hash up to them. Errors that
	// match it are *BadHashError, which says where.
	ErrBadHash = errors.New("hashtree: bad hash")

	// ErrNotEnoughHashes means a supplied hash could not be verified because
	// the sibling it must be combined with is neither known nor supplied.
	ErrNotEnoughHashes = errors.New("hashtree: not enough hashes")

	// ErrIndex means a node index or leaf number is outside the tree, or the
	// tree itself was made with more than MaxLeaves leaves.
	ErrIndex = errors.New("hashtree: index out of range")
)

// badHashKind says what check a BadHashError failed.
type badHashKind int

const (
	mismatch      badHashKind = iota // children do not hash to the node
	conflictKnown                    // differs from the hash already known
	conflictArgs                     // given two values in one call
)

// BadHashError reports which part of a tree failed verification. It matches
// ErrBadHash under errors.Is.
//
// Index is the node at which the failure was found. Either the hash
// supplied for Index conflicts with one already known for that node, or with
// another value supplied for it in the same call (a leaf given both as a
// leaf and as a node); then a hash supplied for Index is certainly wrong,
// and Suspects is just [Index]. Or Index is the lowest node whose hash (already
// known, or supplied in this call) differs from the hash of its two children
// (supplied, or computed from supplied hashes below them). In that case no
// single hash can in general be blamed: a corrupt leaf and a corrupt sibling
// beside it produce exactly the same mismatch. Suspects then lists, in
// ascending order, the hashes supplied in this call that the failed
// comparison depended on; at least one of them is wrong (assuming the hashes
// already known are right, as they are once a trusted root has been set).
// For example, when a leaf and the chain NeededHashes asked for fail, Index is
// the leaf's lowest already-known ancestor (the root, if only the root was
// known) and Suspects is the leaf and the whole chain.
type BadHashError struct {
	// Index is the node index at which verification failed.
	Index int
	// NumLeaves is the padded leaf count P of the tree, used to name leaves
	// in the message (node P-1+j is leaf j); 0 if unknown.
	NumLeaves int
	// Suspects lists the supplied node indices of which at least one is wrong.
	Suspects []int

	kind badHashKind
}

// Error describes the failure, naming nodes that are leaves by leaf number too.
func (e *BadHashError) Error() string {
	var b strings.Builder
	b.WriteString("hashtree: bad hash at ")
	b.WriteString(e.nodeName(e.Index, true))
	switch e.kind {
	case conflictKnown:
		b.WriteString(": differs from the hash already known")
	case conflictArgs:
		b.WriteString(": given two different values")
	default:
		fmt.Fprintf(&b, ": does not match its children %d and %d", 2*e.Index+1, 2*e.Index+2)
		if len(e.Suspects) > 0 {
			b.WriteString("; one of the supplied hashes of ")
			for i, s := range e.Suspects {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(e.nodeName(s, false))
			}
			b.WriteString(" is wrong")
		}
	}
	return b.String()
}

// Unwrap returns ErrBadHash.
func (e *BadHashError) Unwrap() error { return ErrBadHash }

// nodeName names node k, adding its leaf number if it is a leaf and, with
// total, the sizes of the tree.
func (e *BadHashError) nodeName(k int, total bool) string {
	s := "node " + strconv.Itoa(k)
	p := e.NumLeaves
	if p <= 0 {
		return s
	}
	if total {
		s += " of " + strconv.Itoa(2*p-1)
	}
	if k >= p-1 && k < 2*p-1 {
		s += " (leaf " + strconv.Itoa(k-(p-1))
		if total {
			s += " of " + strconv.Itoa(p)
		}
		s += ")"
	}
	return s
}
