package immutable

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/lafs/lafs/crypt"
)

// ErrCorrupt is wrapped by every error that rejects share bytes as corrupt or
// malformed: bad hashes, bad layouts, bad URI extension blocks.
var ErrCorrupt = errors.New("corrupt share")

// UEB is the URI extension block: the parameters and root hashes of a CHK
// file, stored in every share and bound to the cap by its hash.
type UEB struct {
	CodecName         string // "crs"
	SegmentSize       int
	K, N              int
	NumSegments       int
	Size              uint64
	TailSegmentSize   int // padded tail, from tail_codec_params
	CrypttextHash     crypt.Hash
	CrypttextRootHash crypt.Hash
	ShareRootHash     crypt.Hash
	// Extra holds keys this package does not interpret (old uploads carry
	// plaintext_hash and plaintext_root_hash); they are kept for Marshal.
	Extra map[string][]byte
}

// newUEB returns the UEB of a file with geometry g, hashes left zero.
func newUEB(g Geometry) *UEB {
	return &UEB{
		CodecName:       "crs",
		SegmentSize:     g.SegmentSize,
		K:               g.K,
		N:               g.N,
		NumSegments:     g.NumSegments,
		Size:            g.Size,
		TailSegmentSize: g.PaddedTail,
	}
}

// Marshal serializes u as Tahoe's pack_extension does: for each key in
// sorted order, key ":" netstring(value), values of numbers in decimal.
func (u *UEB) Marshal() []byte {
	fields := map[string][]byte{
		"codec_name":          []byte(u.CodecName),
		"codec_params":        []byte(fmt.Sprintf("%d-%d-%d", u.SegmentSize, u.K, u.N)),
		"crypttext_hash":      u.CrypttextHash[:],
		"crypttext_root_hash": u.CrypttextRootHash[:],
		"needed_shares":       []byte(strconv.Itoa(u.K)),
		"num_segments":        []byte(strconv.Itoa(u.NumSegments)),
		"segment_size":        []byte(strconv.Itoa(u.SegmentSize)),
		"share_root_hash":     u.ShareRootHash[:],
		"size":                []byte(strconv.FormatUint(u.Size, 10)),
		"tail_codec_params":   []byte(fmt.Sprintf("%d-%d-%d", u.TailSegmentSize, u.K, u.N)),
		"total_shares":        []byte(strconv.Itoa(u.N)),
	}
	for k, v := range u.Extra {
		if _, known := fields[k]; !known {
			fields[k] = v
		}
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b []byte
	for _, k := range keys {
		b = append(b, k...)
		b = append(b, ':')
		b = crypt.AppendNetstring(b, fields[k])
	}
	return b
}

// Hash is the UEB hash that CHK caps carry.
func (u *UEB) Hash() crypt.Hash { return crypt.UEBHash(u.Marshal()) }

func validUEBKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ParseUEB reads a URI extension block. It checks its structure and that
// the parameters are consistent with each other; the caller checks its hash
// against the cap before trusting it.
func ParseUEB(b []byte) (*UEB, error) {
	fields := map[string][]byte{}
	rest := b
	for len(rest) > 0 {
		colon := bytes.IndexByte(rest, ':')
		if colon <= 0 {
			return nil, fmt.Errorf("%w: UEB: missing key", ErrCorrupt)
		}
		key := string(rest[:colon])
		if !validUEBKey(key) {
			return nil, fmt.Errorf("%w: UEB: bad key %q", ErrCorrupt, key)
		}
		val, r, err := crypt.ParseNetstring(rest[colon+1:])
		if err != nil {
			return nil, fmt.Errorf("%w: UEB: value of %q: %v", ErrCorrupt, key, err)
		}
		if _, dup := fields[key]; dup {
			return nil, fmt.Errorf("%w: UEB: duplicate key %q", ErrCorrupt, key)
		}
		fields[key] = val
		rest = r
	}
	u := &UEB{Extra: map[string][]byte{}}
	var err error
	need := func(k string) []byte {
		v, ok := fields[k]
		if !ok && err == nil {
			err = fmt.Errorf("%w: UEB: missing %q", ErrCorrupt, k)
		}
		delete(fields, k)
		return v
	}
	num := func(k string) uint64 {
		v := need(k)
		if err != nil {
			return 0
		}
		n, e := parseDecimal(v)
		if e != nil {
			err = fmt.Errorf("%w: UEB: %s: %v", ErrCorrupt, k, e)
		}
		return n
	}
	hash := func(k string, dst *crypt.Hash) {
		v := need(k)
		if err == nil && len(v) != len(dst) {
			err = fmt.Errorf("%w: UEB: %s is %d bytes, want 32", ErrCorrupt, k, len(v))
		}
		copy(dst[:], v)
	}
	u.CodecName = string(need("codec_name"))
	codecParams := string(need("codec_params"))
	tailParams := string(need("tail_codec_params"))
	u.K = int(num("needed_shares"))
	u.N = int(num("total_shares"))
	u.NumSegments = int(num("num_segments"))
	u.SegmentSize = int(num("segment_size"))
	u.Size = num("size")
	hash("crypttext_hash", &u.CrypttextHash)
	hash("crypttext_root_hash", &u.CrypttextRootHash)
	hash("share_root_hash", &u.ShareRootHash)
	if err != nil {
		return nil, err
	}
	for k, v := range fields {
		u.Extra[k] = v
	}
	if u.CodecName != "crs" {
		return nil, fmt.Errorf("%w: UEB: unknown codec %q", ErrCorrupt, u.CodecName)
	}
	seg, k, n, err := parseCodecParams(codecParams)
	if err != nil {
		return nil, fmt.Errorf("%w: UEB: codec_params: %v", ErrCorrupt, err)
	}
	tail, tk, tn, err := parseCodecParams(tailParams)
	if err != nil {
		return nil, fmt.Errorf("%w: UEB: tail_codec_params: %v", ErrCorrupt, err)
	}
	u.TailSegmentSize = tail
	if k != u.K || n != u.N || tk != u.K || tn != u.N || seg != u.SegmentSize {
		return nil, fmt.Errorf("%w: UEB: codec params %q/%q disagree with k=%d n=%d segment_size=%d",
			ErrCorrupt, codecParams, tailParams, u.K, u.N, u.SegmentSize)
	}
	if u.K < 1 || u.N < u.K || u.N > 256 {
		return nil, fmt.Errorf("%w: UEB: bad k=%d n=%d", ErrCorrupt, u.K, u.N)
	}
	if u.SegmentSize < 1 || u.SegmentSize%u.K != 0 {
		return nil, fmt.Errorf("%w: UEB: segment size %d is not a positive multiple of k=%d", ErrCorrupt, u.SegmentSize, u.K)
	}
	g, gerr := geometryWithSegment(u.Size, u.K, u.N, uint64(u.SegmentSize))
	if gerr != nil || g.NumSegments != u.NumSegments || g.PaddedTail != u.TailSegmentSize || g.SegmentSize != u.SegmentSize {
		return nil, fmt.Errorf("%w: UEB: size %d, segment size %d, %d segments and tail %d are inconsistent",
			ErrCorrupt, u.Size, u.SegmentSize, u.NumSegments, u.TailSegmentSize)
	}
	return u, nil
}

// Geometry returns the geometry the UEB describes.
func (u *UEB) Geometry() Geometry {
	g, _ := geometryWithSegment(u.Size, u.K, u.N, uint64(u.SegmentSize))
	return g
}

func parseDecimal(b []byte) (uint64, error) {
	if len(b) == 0 || len(b) > 19 || (len(b) > 1 && b[0] == '0') {
		return 0, fmt.Errorf("bad number %q", b)
	}
	return strconv.ParseUint(string(b), 10, 64)
}

func parseCodecParams(s string) (seg, k, n int, err error) {
	parts := strings.Split(s, "-")
	if len(parts) != 3 {
		return 0, 0, 0, fmt.Errorf("want SIZE-K-N, have %q", s)
	}
	var v [3]uint64
	for i, p := range parts {
		if v[i], err = parseDecimal([]byte(p)); err != nil {
			return 0, 0, 0, err
		}
		if v[i] > 1<<40 {
			return 0, 0, 0, fmt.Errorf("number %d too large", v[i])
		}
	}
	return int(v[0]), int(v[1]), int(v[2]), nil
}
