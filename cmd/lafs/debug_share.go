package main

// What the share debugging verbs (dump-share, find-shares, catalog-shares,
// corrupt-share) share: reading a share file of a storage folder in place,
// as Tahoe's scripts/debug.py does, without reading its blocks.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/immutable"
	"github.com/lafs/lafs/mutable"
	"github.com/lafs/lafs/storage"
)

// errBeyondData is wrapped when a share's own offsets point past the end of
// its share data: a truncated or damaged share.
var errBeyondData = errors.New("past the end of the share data")

// shareFile is an open share file and what its container says.
type shareFile struct {
	f    *os.File
	path string // absolute, as Tahoe prints it
	size int64
	c    *storage.ContainerInfo
}

// openShareFile opens a share file for reading and reads its container.
// The error names the file: it is the user's own path, not a cap.
func openShareFile(name string) (*shareFile, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, err
	}
	s, err := newShareFile(f, abs)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", abs, err)
	}
	return s, nil
}

// newShareFile reads the container of the open file f, found at abs. Its
// errors do not name the file.
func newShareFile(f *os.File, abs string) (*shareFile, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	c, err := storage.ReadContainerInfo(f, fi.Size())
	if err != nil {
		return nil, err
	}
	return &shareFile{f: f, path: abs, size: fi.Size(), c: c}, nil
}

func (s *shareFile) Close() error { return s.f.Close() }

// readData reads n bytes of the share data from offset off (counted from
// the start of the share data), all of which must lie within it.
func (s *shareFile) readData(off, n uint64) ([]byte, error) {
	if off > uint64(s.c.DataLength) || n > uint64(s.c.DataLength)-off {
		return nil, fmt.Errorf("%w: bytes %d to %d, of %d", errBeyondData, off, off+n, s.c.DataLength)
	}
	b := make([]byte, n)
	if n == 0 {
		return b, nil
	}
	if _, err := s.f.ReadAt(b, s.c.DataOffset+int64(off)); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b, nil
}

// readRange reads one part of a mutable share.
func (s *shareFile) readRange(r mutable.Range) ([]byte, error) { return s.readData(r.Begin, r.Len()) }

// storageIndexOf is the storage index that names the folder of a share
// file, as Tahoe lays them out (.../<prefix>/<si>/<shnum>), or false.
func storageIndexOf(path string) (lafs.StorageIndex, bool) {
	si, err := lafs.ParseStorageIndex(filepath.Base(filepath.Dir(path)))
	return si, err == nil
}

// chkShare is what an immutable share says of its file.
type chkShare struct {
	layout *immutable.Layout
	ueb    []byte // the URI extension block as stored
	fields map[string][]byte
}

// readCHKShare reads an immutable share's offset table and its URI
// extension block, as Tahoe's ReadBucketProxy finds it.
func readCHKShare(s *shareFile) (*chkShare, error) {
	head, err := s.readData(0, min(immutable.MaxHeaderLen, uint64(s.c.DataLength)))
	if err != nil {
		return nil, err
	}
	l, err := immutable.ParseLayout(head)
	if err != nil {
		return nil, err
	}
	lenSize := uint64(8)
	if l.Version == 1 {
		lenSize = 4
	}
	lb, err := s.readData(l.URIExtension, lenSize)
	if err != nil {
		return nil, fmt.Errorf("URI extension length: %w", err)
	}
	var n uint64
	for _, c := range lb {
		n = n<<8 | uint64(c)
	}
	ueb, err := s.readData(l.URIExtension+lenSize, n)
	if err != nil {
		return nil, fmt.Errorf("URI extension: %w", err)
	}
	fields, err := parseUEBFields(ueb)
	if err != nil {
		return nil, err
	}
	return &chkShare{layout: l, ueb: ueb, fields: fields}, nil
}

// parseUEBFields splits a URI extension block into its fields, key ":"
// netstring(value), as Tahoe's unpack_extension does: leniently, so that
// any block Tahoe could show is shown.
func parseUEBFields(b []byte) (map[string][]byte, error) {
	m := map[string][]byte{}
	for len(b) > 0 {
		colon := bytes.IndexByte(b, ':')
		if colon < 0 {
			return nil, fmt.Errorf("%w: URI extension: no key at %q", immutable.ErrCorrupt, truncate(b, 20))
		}
		v, rest, err := crypt.ParseNetstring(b[colon+1:])
		if err != nil {
			return nil, fmt.Errorf("%w: URI extension: value of %q: %v", immutable.ErrCorrupt, truncate(b[:colon], 40), err)
		}
		m[string(b[:colon])] = v
		b = rest
	}
	return m, nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// uebHash is the UEB hash a CHK cap carries for this share's block.
func (c *chkShare) uebHash() crypt.Hash { return crypt.UEBHash(c.ueb) }

// uebNumber is one of the UEB's numeric fields (size, needed_shares...),
// as Python's int() reads it, and whether it is one.
func (c *chkShare) uebNumber(key string) (uint64, bool) {
	v, ok := c.fields[key]
	if !ok || len(v) == 0 || len(v) > 20 {
		return 0, false
	}
	var n uint64
	for _, d := range v {
		if d < '0' || d > '9' || n > (math.MaxUint64-9)/10 {
			return 0, false
		}
		n = n*10 + uint64(d-'0')
	}
	return n, true
}

// shareType is the kind of share a mutable container holds, as Tahoe
// names it from the version byte: "SDMF", "MDMF" or "unknown".
func (s *shareFile) shareType() string {
	if s.c.DataLength < 1 {
		return "unknown"
	}
	var v [1]byte
	if _, err := s.f.ReadAt(v[:], s.c.DataOffset); err != nil {
		return "unknown"
	}
	switch v[0] {
	case mutable.SDMFVersion:
		return "SDMF"
	case mutable.MDMFVersion:
		return "MDMF"
	}
	return "unknown"
}

// mutableHeader reads and checks the header of a mutable share.
func (s *shareFile) mutableHeader() (*mutable.Header, error) {
	b, err := s.readData(0, min(mutable.HeaderSize, uint64(s.c.DataLength)))
	if err != nil {
		return nil, err
	}
	return mutable.ParseHeader(b)
}

// mutableParts are the parts of a mutable share that dump-share shows.
type mutableParts struct {
	pubkey, signature, encPrivKey []byte
	chain                         mutable.HashChain
	blockHashes                   uint64
}

// readMutableParts reads every part of a mutable share but its blocks.
func (s *shareFile) readMutableParts(h *mutable.Header) (*mutableParts, error) {
	var p mutableParts
	var err error
	for _, part := range []struct {
		dst  *[]byte
		r    mutable.Range
		what string
	}{
		{&p.pubkey, h.VerificationKeyRange(), "verification key"},
		{&p.signature, h.SignatureRange(), "signature"},
		{&p.encPrivKey, h.EncPrivKeyRange(), "encrypted private key"},
	} {
		if *part.dst, err = s.readRange(part.r); err != nil {
			return nil, fmt.Errorf("%s: %w", part.what, err)
		}
	}
	chain, err := s.readRange(h.ShareHashChainRange())
	if err != nil {
		return nil, fmt.Errorf("share hash chain: %w", err)
	}
	if p.chain, err = mutable.ParseHashChain(chain); err != nil {
		return nil, err
	}
	bht := h.BlockHashTreeRange()
	if bht.End > uint64(s.c.DataLength) {
		return nil, fmt.Errorf("block hash tree: %w", errBeyondData)
	}
	p.blockHashes = bht.Len() / 32
	return &p, nil
}

// formatExpiration is how long until a lease expires, as Tahoe's
// format_expiration_time says it: whole seconds (truncated), then days or
// hours when there are more than one.
func formatExpiration(expiration uint32, now time.Time) string {
	remains := float64(expiration) - float64(now.UnixNano())/1e9
	s := fmt.Sprintf("%ds", int64(remains))
	switch {
	case remains > 24*3600:
		s += fmt.Sprintf(" (%d days)", int64(math.Floor(remains/(24*3600))))
	case remains > 3600:
		s += fmt.Sprintf(" (%d hours)", int64(math.Floor(remains/3600)))
	}
	return s
}

// presentSecret shows a lease secret as Tahoe does: base32, marked
// "hash:" where the container stores it hashed.
func presentSecret(secret [32]byte, hashed bool) string {
	if hashed {
		return "hash:" + lafs.Base32(secret[:])
	}
	return lafs.Base32(secret[:])
}
