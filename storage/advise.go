package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
)

// AddOrRenewLease implements lafs.StorageServer (Tahoe's add_lease behind
// PUT /storage/v1/lease): on every share of si, immutable or mutable, the
// lease with this renew secret is renewed to now + 31 days, or a new one
// (owner 1) is added. ErrNotExist when si has no shares; ErrNoSpace when a
// new lease needs room the server does not have (it has none when
// read-only), as in Tahoe. Shares whose containers are corrupt are passed
// over (Tahoe fails there); when there is no other, the answer is
// lafs.ErrCorruptContainer.
func (s *Server) AddOrRenewLease(ctx context.Context, si lafs.StorageIndex, lease lafs.LeaseSecrets) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	unlock := s.locks.lock(si)
	defer unlock()
	all, err := s.b.List(ctx, si)
	if err != nil {
		return s.backendErrf(err, "listing the shares of storage index %v", si)
	}
	now := s.now()
	avail, err := s.availableSpace(ctx)
	if err != nil {
		return err
	}
	found := false
	var corrupt error // the first corrupt share's error
	for _, sh := range all {
		k := backend.Key{SI: si, Share: sh}
		kind, err := s.shareKindOf(ctx, k)
		if kind != kindCorrupt && err == nil {
			switch kind {
			case kindImmutable:
				err = s.addOrRenewImmutableLease(ctx, k, OwnerClient, lease, now, avail)
			case kindMutable:
				var m *mshare
				if m, err = s.openMutable(ctx, k); err == nil {
					err = m.addOrRenewLease(ctx, lease, expirationFrom(now), s.cfg.NodeID, avail)
				}
			default:
				continue
			}
		}
		if errors.Is(err, lafs.ErrCorruptContainer) {
			if corrupt == nil {
				corrupt = err
			}
			continue
		}
		if err != nil {
			return err
		}
		found = true
	}
	switch {
	case found:
		return nil
	case corrupt != nil:
		return corrupt
	}
	return fmt.Errorf("%w: no shares of storage index %v", lafs.ErrNotExist, si)
}

// maxReasonLen is the longest corruption reason the HTTP protocol carries
// (tstr .size (1..32765)).
const maxReasonLen = 32765

// AdviseCorruptImmutable implements lafs.StorageServer; see adviseCorrupt.
func (s *Server) AdviseCorruptImmutable(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, reason string) error {
	return s.adviseCorrupt(ctx, "immutable", kindImmutable, si, shnum, reason)
}

// AdviseCorruptMutable implements lafs.StorageServer; see adviseCorrupt.
func (s *Server) AdviseCorruptMutable(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, reason string) error {
	return s.adviseCorrupt(ctx, "mutable", kindMutable, si, shnum, reason)
}

// adviseCorrupt is Tahoe's advise_corrupt_share: ErrNotExist for a share
// the server does not hold (the HTTP server's 404), else the claim is
// logged and, when Config.AdvisoryDir is set and there is room, written to
// a file of its own named "<UTC time>--<si>-<shnum>", colons removed.
//
// Then, beyond Tahoe, when Config.VerifyShare is set the share is checked
// and quarantined if it fails (quarantine.go), before the answer. With a
// verifier, an advisory also reaches a file under the share's name that is
// no container at all (of either kind), which is quarantined as it stands.
func (s *Server) adviseCorrupt(ctx context.Context, shareType string, want shareKind, si lafs.StorageIndex, shnum lafs.ShareNum, reason string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k := backend.Key{SI: si, Share: shnum}
	unlock := s.locks.rlock(si)
	kind, err := s.shareKindOf(ctx, k)
	unlock()
	if err != nil && kind != kindCorrupt {
		return err
	}
	if kind != want && (kind != kindCorrupt || s.cfg.VerifyShare == nil) {
		return fmt.Errorf("%w: no %s to advise about", lafs.ErrNotExist, shareName(want, k))
	}
	if len(reason) == 0 || len(reason) > maxReasonLen {
		return fmt.Errorf("%w: corruption reason of %d bytes (1 to %d)", lafs.ErrBadRequest, len(reason), maxReasonLen)
	}
	s.log.Error("client claims corruption", "type", shareType, "si", si, "share", shnum, "reason", reason)
	if err := s.recordAdvisory(ctx, shareType, want, k, reason); err != nil {
		return err
	}
	if s.cfg.VerifyShare != nil {
		s.checkAdvised(ctx, want, k)
	}
	return nil
}

// recordAdvisory writes the advisory to Config.AdvisoryDir, if set and
// there is room.
func (s *Server) recordAdvisory(ctx context.Context, shareType string, want shareKind, k backend.Key, reason string) error {
	if s.cfg.AdvisoryDir == "" {
		return nil
	}
	report := CorruptionReport(shareType, k.SI, k.Share, reason)
	avail, err := s.availableSpace(ctx)
	if err != nil {
		return err
	}
	if uint64(len(report)) > avail {
		s.log.Warn("no room to record a corruption advisory", "si", k.SI, "share", k.Share)
		return nil
	}
	path := filepath.Join(s.cfg.AdvisoryDir, CorruptionReportName(s.now(), k.SI, k.Share))
	if err := os.WriteFile(path, []byte(report), 0o600); err != nil {
		return s.backendErrf(err, "recording a corruption advisory for %s", shareName(want, k))
	}
	return nil
}

// CorruptionReport renders an advisory as Tahoe's CORRUPTION_REPORT_FORMAT
// does; shareType is "immutable" or "mutable".
func CorruptionReport(shareType string, si lafs.StorageIndex, shnum lafs.ShareNum, reason string) string {
	return fmt.Sprintf("report: Share Corruption\ntype: %s\nstorage_index: %s\nshare_number: %d\n\n%s\n\n", shareType, si, shnum, reason)
}

// CorruptionReportName is the file name Tahoe gives an advisory:
// iso_utc(now, sep="T") + "--" + si + "-" + shnum, without colons (for
// Windows), such as "2024-05-01T120304.123456--<si>-3".
func CorruptionReportName(now time.Time, si lafs.StorageIndex, shnum lafs.ShareNum) string {
	now = now.UTC()
	ts := now.Format("2006-01-02T15:04:05")
	if us := now.Nanosecond() / 1000; us != 0 {
		ts += fmt.Sprintf(".%06d", us)
	}
	return strings.ReplaceAll(fmt.Sprintf("%s--%s-%d", ts, si, shnum), ":", "")
}
