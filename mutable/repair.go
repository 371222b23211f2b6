package mutable

import (
	"context"
	"fmt"
	"slices"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
)

// The repairer (Tahoe's mutable/repairer.py). Tahoe repairs a mutable file
// by reading its best recoverable version and publishing it again as a new
// version, one seqnum above any seen: the publish replaces every share it
// found, bad ones and those of other versions included (mutable shares
// are overwritten in place with the write enabler), and places the
// missing share numbers. So does this one. Like Tahoe's, it needs the
// write cap (to sign and to derive the write enablers), and it refuses
// what would lose data unless forced (which we do not offer): a newer
// version with too few shares to be read, or two recoverable versions
// with the same seqnum (Tahoe's MustForceRepairError).

// CheckAndRepair checks the mutable file k names and, with opt.Repair,
// repairs it when the check finds it unhealthy or finds bad shares (which
// needs a write cap). A repair that is not possible (a read or verify
// cap, nothing recoverable, data that the repair would lose) is not
// attempted, and the result's PostRepair report says why; a repair that
// fails is not successful, and its PostRepair report says how. Only
// errors of the check itself (or the end of ctx) are returned as errors.
func CheckAndRepair(ctx context.Context, peers lafs.Peers, k cap.Cap, opts Options, opt lafs.CheckOptions) (*lafs.RepairResult, error) {
	c, err := newChecker(peers, k, opts, opt)
	if err != nil {
		return nil, err
	}
	pre, err := c.run(ctx)
	if err != nil {
		return nil, err
	}
	rr := &lafs.RepairResult{StorageIndex: c.f.si, PreRepair: pre, PostRepair: pre}
	if !opt.Repair || !c.needsRepair(pre) {
		return rr, nil
	}
	if why := c.refusal(); why != "" {
		rr.PostRepair = withNote(pre, "Repair not attempted: "+why)
		return rr, nil
	}
	rr.Attempted = true
	placed, rerr := c.repair(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rr.Placed = placed
	again := opt
	again.AddLease = false // the publish renewed the leases of what it wrote
	post, err := Check(ctx, peers, k, opts, again)
	if err != nil {
		return nil, fmt.Errorf("mutable repair: checking again after the repair: %w", err)
	}
	if rerr != nil {
		post = withNote(post, "Repair failed: "+rerr.Error())
	}
	rr.PostRepair = post
	rr.Successful = rerr == nil && post.Healthy && len(post.Corrupt) == 0
	return rr, nil
}

// refusal says why the file cannot be repaired, or "" when it can.
func (c *checker) refusal() string {
	if c.f.writeKey == nil {
		return "repairing a mutable file needs its write cap"
	}
	rec, unrec := healthOf(c.counted())
	if len(rec) == 0 {
		return "no version of the file is recoverable, so there is nothing to repair it from"
	}
	for _, v := range unrec {
		if v.hdr.Seqnum > rec[0].hdr.Seqnum {
			return fmt.Sprintf("version %s, newer than the best recoverable one (%s), has too few shares to be read, "+
				"and a repair would discard it; try again when more of its shares are found, or write the file anew",
				versionLabel(v.hdr), versionLabel(rec[0].hdr))
		}
	}
	for i, v := range rec {
		for _, w := range rec[i+1:] {
			if v.hdr.Seqnum == w.hdr.Seqnum {
				return fmt.Sprintf("versions %s and %s are both recoverable with the same seqnum, "+
					"and a repair would discard one of them; write the file anew to merge them",
					versionLabel(v.hdr), versionLabel(w.hdr))
			}
		}
	}
	return ""
}

// repair reads the best recoverable version and publishes its contents
// as a new version over every share the check found. It returns the
// shares placed.
func (c *checker) repair(ctx context.Context) ([]lafs.ShareLocation, error) {
	f := c.f
	rec, _ := healthOf(c.counted())
	best := rec[0]
	h := best.hdr
	data, err := f.newRetriever(best).readAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", versionLabel(h), err)
	}
	if _, err := f.loadKeys(ctx, c.m); err != nil {
		return nil, err
	}
	// The new version keeps the format and the encoding of the old.
	f.format = h.Format()
	if h.Version == MDMFVersion && h.SegmentSize > 0 {
		f.opts.SegmentSize = int(h.SegmentSize)
	}
	cur, err := f.publish(ctx, c.m, h.K, h.N, data)
	if err != nil {
		return nil, fmt.Errorf("publishing %s again: %w", versionLabel(h), err)
	}
	var placed []lafs.ShareLocation
	for _, rs := range cur.v.shares {
		placed = append(placed, lafs.ShareLocation{Server: rs.server.ID, StorageIndex: f.si, Num: rs.shnum})
	}
	return placed, nil
}

// withNote is a copy of r with one more report line.
func withNote(r *lafs.CheckResult, line string) *lafs.CheckResult {
	c := *r
	c.Report = append(slices.Clone(r.Report), line)
	return &c
}
