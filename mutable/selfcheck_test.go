package mutable

import (
	"bytes"
	"errors"
	"testing"

	"github.com/lafs/lafs"
)

// selfCheckShare encodes plaintext in the given format and returns share
// sh's data.
func selfCheckShare(t *testing.T, version byte, plaintext []byte, sh int) []byte {
	t.Helper()
	keys := testKeys(t, 1)[0]
	shares, err := encodeVersion(keys, version, 3, 3, 10, 999, plaintext, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := shares[sh].Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSelfCheckGoodShares(t *testing.T) {
	for _, version := range []byte{SDMFVersion, MDMFVersion} {
		for _, size := range []int{0, 1, 998, 5000} {
			if version == SDMFVersion && size > 999 {
				continue
			}
			pt := randomBytes(size, uint64(size))
			for _, sh := range []int{0, 7, 9} {
				if err := SelfCheck(lafs.ShareNum(sh), selfCheckShare(t, version, pt, sh)); err != nil {
					t.Errorf("version %d, %d bytes, share %d: %v", version, size, sh, err)
				}
			}
		}
	}
}

func TestSelfCheckFindsDamage(t *testing.T) {
	for _, version := range []byte{SDMFVersion, MDMFVersion} {
		size := 900
		if version == MDMFVersion {
			size = 3000
		}
		good := selfCheckShare(t, version, randomBytes(size, 5), 4)
		h, err := ParseHeader(good)
		if err != nil {
			t.Fatal(err)
		}
		flip := func(off uint64) []byte {
			b := bytes.Clone(good)
			b[off] ^= 0x08
			return b
		}
		last := h.NumSegments() - 1
		cases := []struct {
			name  string
			shnum lafs.ShareNum
			data  []byte
		}{
			{"empty", 4, nil},
			{"seqnum", 4, flip(5)},
			{"root hash", 4, flip(12)},
			{"verification key", 4, flip(h.VerificationKeyRange().Begin + 40)},
			{"signature", 4, flip(h.SignatureRange().End - 1)},
			{"share hash chain", 4, flip(h.ShareHashChainRange().Begin + 9)},
			{"block hash tree", 4, flip(h.BlockHashTreeRange().Begin + 1)},
			{"first block", 4, flip(h.BlockRange(0).End - 1)},
			{"last block", 4, flip(h.BlockRange(last).Begin + uint64(SaltSize))},
			{"truncated", 4, good[:h.Offsets.EOF-1]},
			{"another share's number", 3, good},
			{"a share number past N", 10, good},
		}
		if version == MDMFVersion {
			cases = append(cases, struct {
				name  string
				shnum lafs.ShareNum
				data  []byte
			}{"a salt", 4, flip(h.BlockRange(1).Begin)})
		}
		for _, c := range cases {
			if err := SelfCheck(c.shnum, c.data); !errors.Is(err, ErrBadShare) {
				t.Errorf("version %d, %s: %v, want an error wrapping ErrBadShare", version, c.name, err)
			}
		}
	}
}

// failingReader fails every read past a point, as a disk might.
type failingReader struct {
	b    []byte
	from int64
}

var errDisk = errors.New("input/output error")

func (f failingReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.from {
		return 0, errDisk
	}
	return copy(p, f.b[off:]), nil
}

func TestSelfCheckReaderErrorIsNotBadShare(t *testing.T) {
	good := selfCheckShare(t, MDMFVersion, randomBytes(3000, 1), 0)
	err := SelfCheckAt(0, failingReader{good, int64(len(good)) - 10}, int64(len(good)))
	if !errors.Is(err, errDisk) || errors.Is(err, ErrBadShare) {
		t.Fatalf("a failing read: %v, want the reader's error and not ErrBadShare", err)
	}
}

func FuzzSelfCheck(f *testing.F) {
	keys := testKeys(f, 1)[0]
	shares, err := encodeVersion(keys, MDMFVersion, 1, 2, 3, 64, randomBytes(150, 2), nil)
	if err != nil {
		f.Fatal(err)
	}
	b, _ := shares[1].Marshal()
	f.Add(uint8(1), b)
	f.Fuzz(func(t *testing.T, sh uint8, b []byte) {
		SelfCheck(lafs.ShareNum(sh), b) // must not panic
	})
}
