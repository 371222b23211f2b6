package immutable

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/lafs/lafs"
)

// selfCheckShares encodes size bytes in segments of 4 KiB and returns the
// shares' data.
func selfCheckShares(t *testing.T, size int) *MemoryShares {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	var sink MemoryShares
	p := lafs.Params{K: 3, Happy: 5, N: 10, SegmentSize: 4096}
	if _, err := Encode(context.Background(), bytes.NewReader(data), uint64(size), [16]byte{9}, p, &sink); err != nil {
		t.Fatal(err)
	}
	return &sink
}

func TestSelfCheckGoodShares(t *testing.T) {
	for _, size := range []int{56, 4096, 10000, 3*4096 + 1} {
		sink := selfCheckShares(t, size)
		for sh := range lafs.ShareNum(10) {
			if err := SelfCheck(sh, sink.Bytes(sh)); err != nil {
				t.Errorf("size %d, share %d: %v", size, sh, err)
			}
		}
	}
}

func TestSelfCheckFindsDamage(t *testing.T) {
	sink := selfCheckShares(t, 10000)
	good := sink.Bytes(4)
	lay, err := ParseLayout(good)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(off uint64) []byte {
		b := bytes.Clone(good)
		b[off] ^= 0x40
		return b
	}
	cases := []struct {
		name  string
		shnum lafs.ShareNum
		data  []byte
	}{
		{"empty", 4, nil},
		{"header version", 4, flip(3)},
		{"first block", 4, flip(lay.Data)},
		{"last block byte", 4, flip(lay.PlaintextHashTree - 1)},
		{"crypttext hash tree", 4, flip(lay.CrypttextHashTree + 5)},
		{"block hash tree", 4, flip(lay.BlockHashes + 40)},
		{"share hash chain", 4, flip(lay.ShareHashes + 10)},
		{"UEB length", 4, flip(lay.URIExtension + 3)},
		{"UEB", 4, flip(uint64(len(good)) - 3)},
		{"truncated", 4, good[:len(good)-1]},
		{"cut to the header", 4, good[:lay.Data]},
		{"another share's number", 5, good},
		{"a share number past N", 12, good},
	}
	for _, c := range cases {
		err := SelfCheck(c.shnum, c.data)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want an error wrapping ErrCorrupt", c.name, err)
		}
	}
	// Bytes past the end of the share are not the share's business.
	if err := SelfCheck(4, append(bytes.Clone(good), 1, 2, 3)); err != nil {
		t.Errorf("share with trailing bytes: %v", err)
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

func TestSelfCheckReaderErrorIsNotCorruption(t *testing.T) {
	good := selfCheckShares(t, 10000).Bytes(0)
	err := SelfCheckAt(0, failingReader{good, int64(len(good)) - 100}, int64(len(good)))
	if !errors.Is(err, errDisk) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("a failing read: %v, want the reader's error and not ErrCorrupt", err)
	}
	var _ io.ReaderAt = failingReader{}
}

func FuzzSelfCheck(f *testing.F) {
	sink := MemoryShares{}
	p := lafs.Params{K: 2, Happy: 2, N: 3, SegmentSize: 64}
	if _, err := Encode(context.Background(), bytes.NewReader(make([]byte, 150)), 150, [16]byte{}, p, &sink); err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(1), sink.Bytes(1))
	f.Fuzz(func(t *testing.T, sh uint8, b []byte) {
		SelfCheck(lafs.ShareNum(sh), b) // must not panic
	})
}
