package client

import (
	"context"
	"fmt"

	"github.com/lafs/lafs/cap"
)

// Node is what a cap names, as OpenNode opens it: an *ImmutableFile, a
// *MutableFile or a *Dir. Tell them apart with a type switch.
type Node interface {
	// Cap is the cap the node was opened with.
	Cap() cap.Cap
}

// ImmutableFile is an immutable file (CHK or LIT) opened by OpenNode: a
// File that knows its cap.
type ImmutableFile struct {
	File
	cap cap.Cap
}

// Cap is the file's cap, which is also its read cap.
func (f *ImmutableFile) Cap() cap.Cap { return f.cap }

// OpenNode opens whatever k names: an immutable file (*ImmutableFile), a
// mutable file (*MutableFile) or a directory (*Dir), reading from the grid
// enough to know that it can be read. Caps of unknown kinds and verify
// caps fail with ErrUnknownCap.
func (c *Client) OpenNode(ctx context.Context, k cap.Cap) (Node, error) {
	switch k := k.(type) {
	case *cap.CHK, *cap.LIT:
		f, err := c.OpenFile(ctx, k)
		if err != nil {
			return nil, err
		}
		return &ImmutableFile{File: f, cap: k}, nil
	case *cap.MutableWrite, *cap.MutableRead:
		m, err := c.OpenMutable(ctx, k)
		if err != nil {
			return nil, err
		}
		return m, nil
	case *cap.Dir:
		if !cap.IsVerifier(k) {
			d, err := c.OpenDir(ctx, k)
			if err != nil {
				return nil, err
			}
			return d, nil
		}
	}
	return nil, fmt.Errorf("%w: %s cannot be opened", ErrUnknownCap, cap.Kind(k))
}
