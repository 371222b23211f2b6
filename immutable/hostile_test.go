package immutable

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
)

// recShare serves a forged v2 header and records how much is asked for.
type recShare struct {
	head []byte
	maxN int
}

func (s *recShare) Num() lafs.ShareNum { return 0 }
func (s *recShare) ReadAt(ctx context.Context, off uint64, n int) ([]byte, error) {
	s.maxN = max(s.maxN, n)
	if off == 0 {
		return s.head[:min(n, len(s.head))], nil
	}
	return nil, errors.New("stop")
}

func TestVerifyBoundsWhatItAsksOfALyingServer(t *testing.T) {
	data := bytes.Repeat([]byte{1}, 1<<20) // a 1 MiB file: shares of ~350 KiB
	var sink MemoryShares
	p := lafs.Params{K: 3, Happy: 5, N: 10, SegmentSize: 128 << 10}
	_, err := Encode(context.Background(), bytes.NewReader(data), uint64(len(data)), [16]byte{1}, p, &sink)
	if err != nil {
		t.Fatal(err)
	}

	c := &cap.CHKVerifier{K: 3, N: 10, Size: uint64(len(data))}
	// A v2 header whose sections are in order but whose UEB sits 1 TiB in.
	h := make([]byte, 0x44)
	binary.BigEndian.PutUint32(h, 2)
	for i, v := range []uint64{1, 1, 0x44, 0x44, 0x44, 0x44 + 64, 0x44 + 128, 1 << 40} {
		binary.BigEndian.PutUint64(h[4+8*i:], v)
	}
	s := &recShare{head: h}
	err = VerifyShare(context.Background(), c, s)
	t.Logf("VerifyShare: %v; largest single read asked of the server: %d bytes", err, s.maxN)
	if s.maxN > 64<<20 {
		t.Errorf("a share of a 1 MiB file made the verifier ask one server for %d bytes in one read", s.maxN)
	}
}
