package storage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
)

// The lease expirer (Tahoe's storage/expirer.py, docs/garbage-collection.rst):
// the crawler (crawler.go) hands it every storage index in turn, and it
// judges each lease of each share there, by the lease's own 31-day term
// and by the configured rule. When expiry is enabled, expired leases are
// removed, and a share all of whose leases expired is deleted; when it is
// not, the same is only counted, as what would have been.
//
// Where this differs from Tahoe 1.20's code:
//   - In age mode without an override, a lease expires when its 31-day
//     term is over, as garbage-collection.rst says. Tahoe's code compares
//     the lease's age with its expiration time, a date, so that nothing
//     ever expires in that mode.
//   - An override of zero means none (Tahoe would expire every lease).
//   - A share with no lease at all is kept (and counted as one that would
//     go); Tahoe counts it as deleted but, having no lease to cancel,
//     keeps it too.
//   - Only committed shares are seen: uploads in progress are staged
//     where the backend lists nothing.
//   - Disk bytes are share bytes: backends do not say what a file takes
//     on disk, nor what its folder does.

// ExpiryMode is how a lease is judged expired ([storage] expire.mode).
type ExpiryMode string

// The expiry modes.
const (
	// ExpireAge expires a lease whose age (the time since it was granted
	// or last renewed) is over its duration: 31 days, or the
	// configured override.
	ExpireAge ExpiryMode = "age"
	// ExpireCutoffDate expires a lease granted or last renewed before the
	// cutoff date.
	ExpireCutoffDate ExpiryMode = "cutoff-date"
)

// ExpiryConfig is Tahoe's [storage] expire.* settings. The zero value
// judges by age and removes nothing.
type ExpiryConfig struct {
	// Enabled removes expired leases and deletes the shares left with
	// none (expire.enabled); otherwise the crawler only counts.
	Enabled bool
	// Mode is ExpireAge (the default when empty) or ExpireCutoffDate.
	Mode ExpiryMode
	// OverrideLeaseDuration, when positive, replaces every lease's own
	// 31 days in age mode (expire.override_lease_duration).
	OverrideLeaseDuration time.Duration
	// CutoffDate is the cutoff of ExpireCutoffDate mode
	// (expire.cutoff_date, midnight UTC).
	CutoffDate time.Time
	// KeepImmutable and KeepMutable exempt a kind of share from expiry
	// (expire.immutable = false, expire.mutable = false): its leases
	// never count as expired.
	KeepImmutable, KeepMutable bool
}

// Validate reports settings that make no sense, naming the setting.
func (e ExpiryConfig) Validate() error {
	switch e.mode() {
	case ExpireAge:
		if e.OverrideLeaseDuration < 0 {
			return fmt.Errorf("storage: expiry: negative override lease duration %v", e.OverrideLeaseDuration)
		}
	case ExpireCutoffDate:
		if e.CutoffDate.IsZero() {
			return errors.New("storage: expiry: mode cutoff-date needs a cutoff date")
		}
	default:
		return fmt.Errorf("storage: expiry: mode %q is neither %q nor %q", e.Mode, ExpireAge, ExpireCutoffDate)
	}
	return nil
}

func (e ExpiryConfig) mode() ExpiryMode {
	if e.Mode == "" {
		return ExpireAge
	}
	return e.Mode
}

// expires reports whether a share of this kind may expire at all.
func (e ExpiryConfig) expires(kind shareKind) bool {
	return !(kind == kindImmutable && e.KeepImmutable || kind == kindMutable && e.KeepMutable)
}

// leaseSeconds is LeaseDuration in seconds.
const leaseSeconds = int64(LeaseDuration / time.Second)

// grantedAt is when a lease was granted or last renewed, in Unix seconds:
// as in Tahoe, its expiration less the fixed 31 days.
func grantedAt(l Lease) int64 { return int64(l.Expiration) - leaseSeconds }

// judge says whether lease l has expired at now by its own term
// (original) and by the configured rule (configured), before the
// exemption of kinds.
func (e ExpiryConfig) judge(l Lease, now time.Time) (original, configured bool) {
	original = int64(l.Expiration) <= now.Unix()
	age := now.Unix() - grantedAt(l)
	switch e.mode() {
	case ExpireCutoffDate:
		configured = grantedAt(l) < e.CutoffDate.Unix()
	default:
		limit := leaseSeconds
		if e.OverrideLeaseDuration > 0 {
			limit = int64(e.OverrideLeaseDuration / time.Second)
		}
		configured = age > limit
	}
	return original, configured
}

// Tally counts storage indexes (Tahoe's buckets), shares and their bytes.
type Tally struct {
	Buckets    int64
	Shares     int64
	ShareBytes int64
	// DiskBytes is what the shares take on the backend. Backends do not
	// say, so it is ShareBytes, as Tahoe reports where stat has no
	// st_blocks.
	DiskBytes int64
}

func (t *Tally) add(o Tally) {
	t.Buckets += o.Buckets
	t.Shares += o.Shares
	t.ShareBytes += o.ShareBytes
	t.DiskBytes += o.DiskBytes
}

// KindTally is a Tally in all and for each kind of share.
type KindTally struct {
	All, Mutable, Immutable Tally
}

func (t *KindTally) add(o KindTally) {
	t.All.add(o.All)
	t.Mutable.add(o.Mutable)
	t.Immutable.add(o.Immutable)
}

// count adds o to All and to kind's tally (neither kind for a corrupt
// share, whose kind is unknown).
func (t *KindTally) count(kind shareKind, o Tally) {
	t.All.add(o)
	switch kind {
	case kindImmutable:
		t.Immutable.add(o)
	case kindMutable:
		t.Mutable.add(o)
	}
}

// KindCount is a count in all and for each kind of share.
type KindCount struct {
	All, Mutable, Immutable int64
}

func (c *KindCount) add(o KindCount) {
	c.All += o.All
	c.Mutable += o.Mutable
	c.Immutable += o.Immutable
}

func (c *KindCount) count(kind shareKind, n int64) {
	c.All += n
	switch kind {
	case kindImmutable:
		c.Immutable += n
	case kindMutable:
		c.Mutable += n
	}
}

// ShareRef names a share: a storage index and a share number.
type ShareRef struct {
	SI    lafs.StorageIndex
	Share lafs.ShareNum
}

// maxCorruptListed bounds the corrupt shares a cycle lists.
const maxCorruptListed = 1000

// CycleCounts is what one crawl cycle found (Tahoe's cycle-to-date and
// history entries). The four tallies are Tahoe's space-recovered groups.
type CycleCounts struct {
	// Examined is every share looked at.
	Examined KindTally
	// Actual is what was deleted (nothing unless expiry is enabled).
	Actual KindTally
	// Original is what would have gone by each lease's own 31-day term.
	Original KindTally
	// Configured is what goes, or would go, by the configured rule.
	Configured KindTally
	// LeasesExamined, LeasesExpired and LeasesRemoved count the leases:
	// looked at, expired by the configured rule, and removed (with the
	// shares deleted or from the shares kept).
	LeasesExamined, LeasesExpired, LeasesRemoved KindCount
	// CorruptShares are the shares whose containers could not be read
	// (the first maxCorruptListed of them); CorruptCount counts them all.
	CorruptShares []ShareRef
	CorruptCount  int64
	// LeaseAgeDays counts the leases by age in whole days (Tahoe's
	// lease-age-histogram, whose buckets are days).
	LeaseAgeDays map[int64]int64
	// LeasesPerShare counts the shares by number of leases.
	LeasesPerShare map[int]int64
}

func (c *CycleCounts) add(o *CycleCounts) {
	c.Examined.add(o.Examined)
	c.Actual.add(o.Actual)
	c.Original.add(o.Original)
	c.Configured.add(o.Configured)
	c.LeasesExamined.add(o.LeasesExamined)
	c.LeasesExpired.add(o.LeasesExpired)
	c.LeasesRemoved.add(o.LeasesRemoved)
	for _, r := range o.CorruptShares {
		if len(c.CorruptShares) < maxCorruptListed {
			c.CorruptShares = append(c.CorruptShares, r)
		}
	}
	c.CorruptCount += o.CorruptCount
	for k, v := range o.LeaseAgeDays {
		if c.LeaseAgeDays == nil {
			c.LeaseAgeDays = map[int64]int64{}
		}
		c.LeaseAgeDays[k] += v
	}
	for k, v := range o.LeasesPerShare {
		if c.LeasesPerShare == nil {
			c.LeasesPerShare = map[int]int64{}
		}
		c.LeasesPerShare[k] += v
	}
}

// clone returns a deep copy.
func (c *CycleCounts) clone() CycleCounts {
	var out CycleCounts
	out.add(c)
	return out
}

// errLeasesUnknown: the LeaseStore could not give a share's leases.
var errLeasesUnknown = errors.New("leases unknown")

// shareVerdict is what the expirer made of one share.
type shareVerdict struct {
	kind                     shareKind
	originalGone, configGone bool // every lease expired (or none at all)
	deleted                  bool
}

// examineBucket judges every share of si at now, removing expired leases
// and deleting shares as cfg says, and adds what it found to cc. The
// storage index is locked throughout (for writing when expiry is enabled,
// else for reading), so that no client renews a lease in the middle.
func (s *Server) examineBucket(ctx context.Context, si lafs.StorageIndex, now time.Time, cfg ExpiryConfig, cc *CycleCounts) error {
	lock := s.locks.rlock
	if cfg.Enabled {
		lock = s.locks.lock
	}
	defer lock(si)()
	shares, err := s.b.List(ctx, si)
	if err != nil {
		return s.backendErrf(err, "listing the shares of storage index %v", si)
	}
	seen := 0
	bucketKind := kindNone
	originalGone, configGone, deleted := true, true, true
	for _, sh := range shares {
		k := backend.Key{SI: si, Share: sh}
		v, err := s.examineShare(ctx, k, now, cfg, cc)
		switch {
		case errors.Is(err, lafs.ErrCorruptContainer):
			if len(cc.CorruptShares) < maxCorruptListed {
				cc.CorruptShares = append(cc.CorruptShares, ShareRef{si, sh})
			}
			cc.CorruptCount++
			v = shareVerdict{kind: kindCorrupt}
		case errors.Is(err, lafs.ErrNotExist), errors.Is(err, errLeasesUnknown):
			continue // gone meanwhile, or its leases unknown
		case err != nil:
			return err
		}
		seen++
		bucketKind = v.kind
		originalGone = originalGone && v.originalGone
		configGone = configGone && v.configGone
		deleted = deleted && v.deleted
	}
	if seen == 0 {
		return nil
	}
	// Like Tahoe, a bucket is of the kind of its last share.
	one := Tally{Buckets: 1}
	cc.Examined.count(bucketKind, one)
	if originalGone {
		cc.Original.count(bucketKind, one)
	}
	if configGone {
		cc.Configured.count(bucketKind, one)
	}
	if deleted {
		cc.Actual.count(bucketKind, one)
	}
	return nil
}

// examineShare judges the leases of one share and acts on them.
func (s *Server) examineShare(ctx context.Context, k backend.Key, now time.Time, cfg ExpiryConfig, cc *CycleCounts) (shareVerdict, error) {
	kind, err := s.shareKindOf(ctx, k)
	if err != nil {
		return shareVerdict{}, err
	}
	var leases []Lease
	var size int64
	var imm struct {
		h   ImmutableHeader
		lay immLayout
	}
	var mut *mshare
	var offsets []int64
	switch kind {
	case kindNone:
		return shareVerdict{}, noShare(kindNone, k)
	case kindImmutable:
		imm.h, imm.lay, err = s.openImmutable(ctx, k)
		if err == nil && cfg.Enabled {
			// Write-locked: a torn container is written back into
			// the state Tahoe reads too.
			err = s.repairTornImmutable(ctx, k, &imm.h, &imm.lay)
		}
		if err == nil {
			size = imm.lay.size
			if !s.leasesOutside() {
				leases, err = s.immutableLeases(ctx, k, imm.h, imm.lay)
			}
		}
	case kindMutable:
		if mut, err = s.openMutable(ctx, k); err == nil {
			size = mut.size
			if !s.leasesOutside() {
				leases, offsets, err = mutableLeases(ctx, mut)
			}
		}
	}
	if err == nil && s.leasesOutside() {
		leases, err = s.cfg.Leases.Leases(ctx, k)
		if a, ok := s.cfg.Leases.(StoredLeaseReader); ok && err == nil && cfg.Enabled && cfg.expires(kind) && anyExpired(cfg, leases, now) {
			// Judge by the record itself before acting on the index.
			leases, err = a.StoredLeases(ctx, k)
		}
		if err != nil && ctx.Err() == nil {
			// Leases that cannot be read are not known to have
			// expired: the share is passed over, and the crawl goes on.
			s.log.Warn("lease expiry passes over a share whose leases cannot be read", "si", k.SI, "share", k.Share, "err", err)
			return shareVerdict{}, errLeasesUnknown
		}
	}
	if err != nil {
		return shareVerdict{}, err
	}

	v := shareVerdict{kind: kind}
	var validOriginal, validConfigured int
	var expired []int
	for i, l := range leases {
		age := now.Unix() - grantedAt(l)
		if cc.LeaseAgeDays == nil {
			cc.LeaseAgeDays = map[int64]int64{}
		}
		cc.LeaseAgeDays[age/86400]++
		original, configured := cfg.judge(l, now)
		if !cfg.expires(kind) {
			configured = false
		}
		if !original {
			validOriginal++
		}
		if configured {
			expired = append(expired, i)
		} else {
			validConfigured++
		}
	}
	if cc.LeasesPerShare == nil {
		cc.LeasesPerShare = map[int]int64{}
	}
	cc.LeasesPerShare[len(leases)]++
	cc.LeasesExamined.count(kind, int64(len(leases)))
	cc.LeasesExpired.count(kind, int64(len(expired)))
	share := Tally{Shares: 1, ShareBytes: size, DiskBytes: size}
	cc.Examined.count(kind, share)
	s.crawlCounts.sharesExamined.Add(1)
	if validOriginal == 0 {
		v.originalGone = true
		cc.Original.count(kind, share)
	}
	if validConfigured == 0 {
		v.configGone = true
		cc.Configured.count(kind, share)
	}
	if !cfg.Enabled || len(expired) == 0 {
		return v, nil
	}

	if validConfigured == 0 {
		if err := s.b.Delete(ctx, k); err != nil {
			return v, s.backendErrf(err, "deleting %s, whose leases all expired", shareName(kind, k))
		}
		s.forgetStored(ctx, k)
		s.log.Info("share deleted: its leases expired", "si", k.SI, "share", k.Share, "kind", kindString(kind), "bytes", size)
		v.deleted = true
		cc.Actual.count(kind, share)
		cc.LeasesRemoved.count(kind, int64(len(leases)))
		s.crawlCounts.sharesDeleted.Add(1)
		s.crawlCounts.bytesDeleted.Add(size)
		s.crawlCounts.leasesRemoved.Add(int64(len(leases)))
		return v, nil
	}
	switch {
	case s.leasesOutside():
		kept := make([]Lease, 0, len(leases)-len(expired))
		for i, l := range leases {
			if !slices.Contains(expired, i) {
				kept = append(kept, l)
			}
		}
		err = s.setStored(ctx, k, kind, size, kept)
	case kind == kindImmutable:
		err = s.removeImmutableLeases(ctx, k, imm.h, imm.lay.dataEnd, leases, expired)
	case kind == kindMutable:
		err = s.removeMutableLeases(ctx, mut, offsets, expired)
	}
	if err != nil {
		return v, err
	}
	cc.LeasesRemoved.count(kind, int64(len(expired)))
	s.crawlCounts.leasesRemoved.Add(int64(len(expired)))
	return v, nil
}

// anyExpired reports whether cfg's rule expires a lease of leases at now.
func anyExpired(cfg ExpiryConfig, leases []Lease, now time.Time) bool {
	for _, l := range leases {
		if _, configured := cfg.judge(l, now); configured {
			return true
		}
	}
	return false
}

// kindString is "immutable" or "mutable" (else "unknown").
func kindString(kind shareKind) string {
	switch kind {
	case kindImmutable:
		return "immutable"
	case kindMutable:
		return "mutable"
	}
	return "unknown"
}

// immutableLeases reads the leases in use of an immutable container laid
// out as lay.
func (s *Server) immutableLeases(ctx context.Context, k backend.Key, h ImmutableHeader, lay immLayout) ([]Lease, error) {
	buf := make([]byte, lay.leases*ImmutableLeaseSize)
	if err := s.readFull(ctx, kindImmutable, k, buf, lay.dataEnd); err != nil {
		return nil, err
	}
	out := make([]Lease, lay.leases)
	for i := range out {
		l, err := ParseImmutableLease(buf[i*ImmutableLeaseSize : (i+1)*ImmutableLeaseSize])
		if err != nil {
			return nil, s.corruptErr(kindImmutable, k, err)
		}
		out[i] = l
	}
	return out, nil
}

// removeImmutableLeases rewrites the lease list without the expired ones,
// as Tahoe's ShareFile.cancel_lease does: the leases kept, in their order,
// then the count, then the file cut after them. The container is not
// torn (examineShare repaired it).
//
// The records kept are durable before the count or the size changes:
// whatever a crash keeps of the later two writes, the leases in use
// (immutable_container.go) are then the records kept, or those followed
// by stale ones (some expired, which the next cycle removes), and never
// fewer. Were the count or the cut durable first, a crash could leave the
// first n of the old records in use and drop a lease kept.
//
// A share of 4 GiB or more (its length field saturated) is read by
// Tahoe's rule alone, which misreads the container whenever the count or
// the size changes alone: there the count and the size stay as they are,
// and each expired record is overwritten in place, in one 72-byte write,
// with a copy of the kept lease that expires last. Any subset of those
// writes leaves every record a lease, the kept ones untouched; a copy
// expires with its original, or is replaced the same way if that one is
// renewed, and a new lease takes the place of one (immutable.go).
func (s *Server) removeImmutableLeases(ctx context.Context, k backend.Key, h ImmutableHeader, lo int64, leases []Lease, expired []int) error {
	drop := make(map[int]bool, len(expired))
	for _, i := range expired {
		drop[i] = true
	}
	if h.DataLength == math.MaxUint32 {
		return s.overwriteExpiredImmutableLeases(ctx, k, lo, leases, expired, drop)
	}
	var buf []byte
	n := 0
	for i, l := range leases {
		if !drop[i] {
			buf = l.AppendImmutable(buf)
			n++
		}
	}
	what := fmt.Sprintf("removing expired leases of %s", shareName(kindImmutable, k))
	if err := s.b.WriteAt(ctx, k, buf, lo); err != nil {
		return s.backendErrf(err, "%s", what)
	}
	if err := s.b.Sync(ctx, k); err != nil {
		return s.backendErrf(err, "%s", what)
	}
	h.NumLeases = uint32(n)
	if err := s.b.WriteAt(ctx, k, h.Append(nil), 0); err != nil {
		return s.backendErrf(err, "%s", what)
	}
	if err := s.b.Truncate(ctx, k, lo+int64(n)*ImmutableLeaseSize); err != nil {
		return s.backendErrf(err, "%s", what)
	}
	return s.backendErrf(s.b.Sync(ctx, k), "%s", what)
}

// overwriteExpiredImmutableLeases overwrites each expired lease record
// of a container whose length field is saturated with a copy of the kept
// lease that expires last (see removeImmutableLeases). With no lease
// kept it does nothing: such a share is deleted instead.
func (s *Server) overwriteExpiredImmutableLeases(ctx context.Context, k backend.Key, lo int64, leases []Lease, expired []int, drop map[int]bool) error {
	keep := -1
	for i, l := range leases {
		if !drop[i] && (keep < 0 || l.Expiration > leases[keep].Expiration) {
			keep = i
		}
	}
	if keep < 0 {
		return nil
	}
	what := fmt.Sprintf("removing expired leases of %s", shareName(kindImmutable, k))
	rec := leases[keep].AppendImmutable(nil)
	for _, i := range expired {
		if err := s.b.WriteAt(ctx, k, rec, lo+int64(i)*ImmutableLeaseSize); err != nil {
			return s.backendErrf(err, "%s", what)
		}
	}
	return s.backendErrf(s.b.Sync(ctx, k), "%s", what)
}

// mutableLeases reads the leases in use of a mutable container (the
// occupied slots, then the extra leases) and where each record lies.
func mutableLeases(ctx context.Context, m *mshare) ([]Lease, []int64, error) {
	slots := make([]byte, MutableLeaseSlots*MutableLeaseSize)
	if err := m.s.readFullFrom(ctx, m.b(), kindMutable, m.k, slots, MutableHeaderSize); err != nil {
		return nil, nil, err
	}
	extra, err := m.extraLeaseBlock(ctx)
	if err != nil {
		return nil, nil, err
	}
	records := append(slots, extra[mutableExtraLeaseCountSz:]...)
	var leases []Lease
	var offsets []int64
	for i := range int64(len(records) / MutableLeaseSize) {
		l, err := ParseMutableLease(records[i*MutableLeaseSize : (i+1)*MutableLeaseSize])
		if err != nil {
			return nil, nil, m.s.corruptErr(kindMutable, m.k, err)
		}
		if l.Owner == 0 {
			continue
		}
		leases = append(leases, l)
		offsets = append(offsets, m.leaseAt(i))
	}
	return leases, offsets, nil
}

// removeMutableLeases blanks the expired lease records in place, as
// Tahoe's MutableShareFile.cancel_lease does (a blank record is an empty
// slot, which the next new lease fills).
func (s *Server) removeMutableLeases(ctx context.Context, m *mshare, offsets []int64, expired []int) error {
	blank := make([]byte, MutableLeaseSize)
	for _, i := range expired {
		if err := m.writeAt(ctx, blank, offsets[i]); err != nil {
			return err
		}
	}
	return s.backendErrf(s.b.Sync(ctx, m.k), "removing expired leases of %s", shareName(kindMutable, m.k))
}
