// Package lafs holds the vocabulary of the whole system: the names every other
// package shares. Read it first.
//
// lafs is a Go implementation of Tahoe-LAFS, the Least-Authority File Store.
// Files are encrypted and erasure-coded by the client (k of N shares) and the
// shares are spread over storage servers that never see plaintext or keys.
// Capabilities (package cap) name files and grant access to them.
package lafs

import (
	"errors"
	"fmt"
)

// StorageIndex names the shares of one file on every storage server. It is
// derived from the file's key (CHK) or read key (SDMF/MDMF) by a one-way hash,
// so servers learn nothing about the contents from it.
type StorageIndex [16]byte

// ShareNum identifies one of the N shares of a file, 0 <= ShareNum < N.
type ShareNum uint16

// MaxShares is the largest N that zfec and CHK files allow.
const MaxShares = 256

// Params are the erasure-coding parameters of an upload: any K of N shares
// recover the file; an upload succeeds only when the shares sit on servers
// whose placement reaches Happy (servers-of-happiness).
type Params struct {
	K, Happy, N int
	// SegmentSize is the maximum segment size in bytes. Tahoe's default
	// since 1.19 is 1 MiB.
	SegmentSize int
}

// DefaultSegmentSize is Tahoe's default maximum immutable segment size.
const DefaultSegmentSize = 1 << 20

// DefaultParams are Tahoe's defaults: 3-of-10, happy 7, 1 MiB segments.
var DefaultParams = Params{K: 3, Happy: 7, N: 10, SegmentSize: DefaultSegmentSize}

// ErrBadParams is wrapped by every error that rejects coding parameters.
var ErrBadParams = errors.New("bad encoding parameters")

// Validate reports whether p is usable: 1 <= K <= N <= 256,
// 1 <= Happy <= N (when Happy is set; Tahoe allows happy below k) and
// SegmentSize >= 1.
func (p Params) Validate() error {
	switch {
	case p.K < 1 || p.N < p.K || p.N > MaxShares:
		return fmt.Errorf("%w: need 1 <= k <= n <= %d, have k=%d n=%d", ErrBadParams, MaxShares, p.K, p.N)
	case p.Happy < 0 || p.Happy > p.N:
		return fmt.Errorf("%w: need 1 <= happy <= n, have happy=%d n=%d", ErrBadParams, p.Happy, p.N)
	case p.SegmentSize < 1:
		return fmt.Errorf("%w: segment size %d", ErrBadParams, p.SegmentSize)
	}
	return nil
}
