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
	if d, ok := k.(*cap.Dir); ok {
		k = d.File
	}
	defer c.count.check(k)()
	switch k := k.(type) {
	case *cap.LIT:
		return nil, nil
	case *cap.CHK:
		return c.checkImmutable(ctx, k.Verifier().(*cap.CHKVerifier), opt)
	case *cap.CHKVerifier:
		return c.checkImmutable(ctx, k, opt)
	case *cap.MutableWrite, *cap.MutableRead, *cap.MutableVerifier:
		return mutable.Check(ctx, c.peers, k, c.mutableOptions(), opt)
	}
	return nil, fmt.Errorf("%w: %s cannot be checked", ErrUnknownCap, cap.Kind(k))
}

// CheckAndRepair checks k as Check does and, when opt.Repair is set and
// the file is unhealthy but recoverable, repairs it: regenerates its
// missing and bad shares and places them so that it is healthy again.
// Repairing a mutable file needs its write cap; an immutable file's
// verify cap is enough. A LIT file gives a nil result.
func (c *Client) CheckAndRepair(ctx context.Context, k cap.Cap, opt lafs.CheckOptions) (*lafs.RepairResult, error) {
	if d, ok := k.(*cap.Dir); ok {
		k = d.File
	}
	defer c.count.check(k)()
	switch k := k.(type) {
	case *cap.LIT:
		return nil, nil
	case *cap.CHK:
		return c.repairImmutable(ctx, k.Verifier().(*cap.CHKVerifier), opt)
	case *cap.CHKVerifier:
		return c.repairImmutable(ctx, k, opt)
	case *cap.MutableWrite, *cap.MutableRead, *cap.MutableVerifier:
		return mutable.CheckAndRepair(ctx, c.peers, k, c.mutableOptions(), opt)
	}
	return nil, fmt.Errorf("%w: %s cannot be checked", ErrUnknownCap, cap.Kind(k))
}

func (c *Client) checkImmutable(ctx context.Context, v *cap.CHKVerifier, opt lafs.CheckOptions) (*lafs.CheckResult, error) {
	return immutable.Check(ctx, c.peers.ServersFor(v.StorageIndex), v, c.cfg.LeaseSecret, opt)
}

func (c *Client) repairImmutable(ctx context.Context, v *cap.CHKVerifier, opt lafs.CheckOptions) (*lafs.RepairResult, error) {
	return immutable.CheckAndRepair(ctx, c.peers, v, immutable.RepairOptions{LeaseSecret: c.cfg.LeaseSecret, Check: opt})
}
