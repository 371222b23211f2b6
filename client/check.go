package client

import (
	"context"
	"fmt"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/immutable"
	"github.com/lafs/lafs/mutable"
)

// Check asks the grid how healthy the file or directory k names is: how
// many of its shares are found, on how many servers, and, with
// opt.Verify, whether every byte of every share passes its hashes. Any
// cap may be checked, verify caps too. A LIT file (or a literal
// directory) has no shares: its result is nil, and it is always healthy.
// opt.Repair is ignored (see CheckAndRepair).
func (c *Client) Check(ctx context.Context, k cap.Cap, opt lafs.CheckOptions) (*lafs.CheckResult, error) {
	f, err := checkTarget(k)
	if err != nil || f == nil {
		return nil, err
	}
	defer c.count.check()()
	if v, ok := f.(*cap.CHKVerifier); ok {
		return immutable.Check(ctx, c.peers.ServersFor(v.StorageIndex), v, c.cfg.LeaseSecret, opt)
	}
	return mutable.Check(ctx, c.peers, f, c.mutableOptions(), opt)
}

// CheckAndRepair checks k as Check does and, when opt.Repair is set and
// the file is unhealthy but recoverable, repairs it: regenerates its
// missing and bad shares and places them so that it is healthy again.
// Repairing a mutable file needs its write cap; an immutable file's
// verify cap is enough. A LIT file gives a nil result.
func (c *Client) CheckAndRepair(ctx context.Context, k cap.Cap, opt lafs.CheckOptions) (*lafs.RepairResult, error) {
	f, err := checkTarget(k)
	if err != nil || f == nil {
		return nil, err
	}
	defer c.count.check()()
	if v, ok := f.(*cap.CHKVerifier); ok {
		return immutable.CheckAndRepair(ctx, c.peers, v, immutable.RepairOptions{LeaseSecret: c.cfg.LeaseSecret, Check: opt})
	}
	return mutable.CheckAndRepair(ctx, c.peers, f, c.mutableOptions(), opt)
}

// checkTarget is what a check of k works on: the file under a directory
// cap, an immutable file's verify cap, or the mutable file's own cap
// (whose write cap a repair needs). It is nil for a LIT file, which has
// no shares.
func checkTarget(k cap.Cap) (cap.Cap, error) {
	if d, ok := k.(*cap.Dir); ok {
		k = d.File
	}
	switch k := k.(type) {
	case *cap.LIT:
		return nil, nil
	case *cap.CHK:
		return k.Verifier(), nil
	case *cap.CHKVerifier, *cap.MutableWrite, *cap.MutableRead, *cap.MutableVerifier:
		return k, nil
	}
	return nil, fmt.Errorf("%w: %s cannot be checked", ErrUnknownCap, cap.Kind(k))
}
