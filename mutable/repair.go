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
// with the same seqnum (Tahoe's MustForceRepairError). Unlike Tahoe's, it
// also refuses when it has no verdict on some share a server listed (see
// refusal), and when the version is too big to hold in memory.

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

// maxRepairBytes bounds the version a repair reads into memory to publish
// it again (SDMF files are small by nature; MDMF files may not be).
var maxRepairBytes uint64 = 64 << 20

// refusal says why the file cannot be repaired, or "" when it can. A
// repair publishes the best version the check verified one seqnum above
// every version seen; it must never replace a newer version with an older
// one. So it is refused when a share some server listed could not be read
// or verified (it may be of a newer version), when a share is of a format
// this client does not know, when a version newer than the best has too
// few good shares, and when two versions with the same seqnum could each
// be read (Tahoe's MustForceRepairError), the last two judged on every
// version seen, verified or not.
func (c *checker) refusal() string {
	if c.f.writeKey == nil {
		return "repairing a mutable file needs its write cap"
	}
	if len(c.incompat) > 0 {
		rs := c.incompat[0]
		return fmt.Sprintf("shares of a format this client does not know were found (%d; the first: share %d on %s), "+
			"perhaps of a newer version written by a newer client, and a repair would overwrite them",
			len(c.incompat), rs.shnum, rs.server.String())
	}
	if n, first := c.doubtful(); n > 0 {
		return fmt.Sprintf("shares that servers listed could not be read or verified (%d; the first: %s), "+
			"so a repair might replace a newer version with an older one; try again when they can be", n, first)
	}
	rec, _ := healthOf(c.counted())
	if len(rec) == 0 {
		return "no version of the file is recoverable, so there is nothing to repair it from"
	}
	best := rec[0]
	seen := (&serverMap{shares: c.seen}).versions()
	for _, v := range seen {
		if v.hdr.Seqnum > best.hdr.Seqnum {
			return fmt.Sprintf("version %s, newer than the best recoverable one (%s), has too few good shares to be read, "+
				"and a repair would discard it; try again when more of its shares are found, or write the file anew",
				versionLabel(v.hdr), versionLabel(best.hdr))
		}
	}
	seenRec, _ := healthOf(seen)
	for i, v := range seenRec {
		for _, w := range seenRec[i+1:] {
			if v.hdr.Seqnum == w.hdr.Seqnum {
				return fmt.Sprintf("versions %s and %s are both recoverable with the same seqnum, "+
					"and a repair would discard one of them; write the file anew to merge them",
					versionLabel(v.hdr), versionLabel(w.hdr))
			}
		}
	}
	if n := best.hdr.DataLength; n > maxRepairBytes {
		return fmt.Sprintf("the best version (%s) is %d bytes, more than the %d bytes a repair reads into memory",
			versionLabel(best.hdr), n, maxRepairBytes)
	}
	return ""
}

// doubtful counts the shares some server listed on which the check has
// no verdict (their start could not be read, or they could not be
// verified), and describes the first.
func (c *checker) doubtful() (int, string) {
	var first string
	if len(c.unread) > 0 {
		ms := c.unread[0]
		first = fmt.Sprintf("share %d on %s: %v", ms.shnum, ms.server.String(), ms.err)
	}
	for _, rs := range c.m.shares {
		if err := c.unverified[rs]; err != nil && first == "" {
			first = fmt.Sprintf("share %d on %s: %v", rs.shnum, rs.server.String(), err)
		}
	}
	return len(c.unread) + len(c.unverified), first
}

// repair reads the best recoverable version and publishes its contents
// as a new version over every share the check found. It returns the
// shares placed.
func (c *checker) repair(ctx context.Context) ([]lafs.ShareLocation, error) {
	f := c.f
	rec, _ := healthOf(c.counted())
	best := rec[0]
	h := best.hdr
	for _, rs := range c.seen {
		if rs.hdr.Seqnum > h.Seqnum { // refusal does not let this happen
			return nil, fmt.Errorf("not publishing %s again: seq %d was seen", versionLabel(h), rs.hdr.Seqnum)
		}
	}
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
