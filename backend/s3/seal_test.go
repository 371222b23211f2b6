package s3

import (
	"bytes"
	"errors"
	"testing"
)

var testKey = [32]byte{1, 2, 3}

func TestSealedSizes(t *testing.T) {
	for _, n := range []int64{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3 * chunkSize, 5<<20 + 17} {
		stored := sealedSize(n)
		if got, ok := plainSize(stored); !ok || got != n {
			t.Errorf("plainSize(sealedSize(%d)=%d) = %d, %v", n, stored, got, ok)
		}
	}
	// Every stored size maps to at most one plaintext size, and sizes
	// between sealed ones are refused.
	seen := map[int64]int64{}
	for n := int64(0); n < 3*chunkSize; n += 97 {
		seen[sealedSize(n)] = n
	}
	for stored := int64(0); stored < sealedSize(3*chunkSize); stored++ {
		n, ok := plainSize(stored)
		want, sealed := seen[stored]
		if sealed && (!ok || n != want) {
			t.Fatalf("plainSize(%d) = %d, %v; want %d", stored, n, ok, want)
		}
		if ok && sealedSize(n) != stored {
			t.Fatalf("plainSize(%d) = %d, whose sealed size is %d", stored, n, sealedSize(n))
		}
	}
	for _, bad := range []int64{0, headerSize, headerSize + tagSize - 1, headerSize + sealedChunk + 1, headerSize + sealedChunk + tagSize} {
		if n, ok := plainSize(bad); ok {
			t.Errorf("plainSize(%d) = %d, true; want false", bad, n)
		}
	}
}

func plaintext(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i>>9)
	}
	return p
}

// TestSealChunks checks that sealing a run of chunks from a reader gives
// the bytes sealAll does, part by part.
func TestSealChunks(t *testing.T) {
	p := plaintext(5*chunkSize + 123)
	s := freshSealer(&testKey, "shares/aa/x/0")
	all := s.sealAll(p)
	var got []byte
	const per = 2 // chunks per run
	for first := int64(0); first < numChunks(int64(len(p))); first += per {
		end := min(int64(len(p)), (first+per)*chunkSize)
		size := int64(len(p))
		if end < size && first == 0 {
			size = -1 // a part known not to be the last
		}
		buf := make([]byte, sealedPartSize(per*chunkSize))
		out, err := s.sealChunks(buf, bytes.NewReader(p), first, end, size)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out...)
	}
	if !bytes.Equal(got, all) {
		t.Fatalf("sealChunks by runs differs from sealAll")
	}
	back, err := openAll(&testKey, "shares/aa/x/0", all)
	if err != nil || !bytes.Equal(back, p) {
		t.Fatalf("openAll: %v", err)
	}
	empty := s.sealAll(nil)
	if int64(len(empty)) != sealedSize(0) {
		t.Fatalf("empty object of %d bytes", len(empty))
	}
	if back, err := openAll(&testKey, "shares/aa/x/0", empty); err != nil || len(back) != 0 {
		t.Fatalf("openAll of an empty object: %q, %v", back, err)
	}
}

// TestSealTamper checks that every kind of change is detected.
func TestSealTamper(t *testing.T) {
	const name = "shares/aa/x/1"
	p := plaintext(3*chunkSize + 10)
	sealed := freshSealer(&testKey, name).sealAll(p)
	chunk := func(b []byte, i int) []byte {
		return b[sealedOffset(int64(i)):min(int64(len(b)), sealedOffset(int64(i+1)))]
	}
	cases := map[string][]byte{}
	flip := bytes.Clone(sealed)
	flip[len(flip)/2] ^= 1
	cases["flipped byte"] = flip
	salt := bytes.Clone(sealed)
	salt[headerSize-1] ^= 1
	cases["changed salt"] = salt
	magic := bytes.Clone(sealed)
	magic[0] = 'X'
	cases["bad magic"] = magic
	cases["cut at a chunk boundary"] = sealed[:sealedOffset(2)]
	cases["cut mid-chunk"] = sealed[:len(sealed)-5]
	cases["header only"] = sealed[:headerSize]
	cases["extended"] = append(bytes.Clone(sealed), 0)
	swapped := bytes.Clone(sealed)
	copy(chunk(swapped, 0), chunk(sealed, 1))
	copy(chunk(swapped, 1), chunk(sealed, 0))
	cases["chunks swapped"] = swapped
	// The last full chunk of a longer object, presented as a whole
	// shorter object's last chunk.
	cases["last chunk dropped"] = sealed[:sealedOffset(3)]
	for what, b := range cases {
		if _, err := openAll(&testKey, name, b); !errors.Is(err, ErrTampered) {
			t.Errorf("%s: openAll = %v, want ErrTampered", what, err)
		}
	}
	if _, err := openAll(&testKey, "shares/aa/x/2", sealed); !errors.Is(err, ErrTampered) {
		t.Errorf("moved to another name: openAll = %v, want ErrTampered", err)
	}
	other := [32]byte{9}
	if _, err := openAll(&other, name, sealed); !errors.Is(err, ErrTampered) {
		t.Errorf("another seal key: openAll = %v, want ErrTampered", err)
	}
}

// FuzzOpenAll feeds openAll arbitrary stored bytes: it may refuse them,
// never panic, and what it accepts is what was sealed.
func FuzzOpenAll(f *testing.F) {
	s := freshSealer(&testKey, "r")
	f.Add(s.sealAll(nil))
	f.Add(s.sealAll([]byte("hello")))
	f.Add(s.sealAll(plaintext(chunkSize + 3)))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := openAll(&testKey, "r", b)
		if err != nil {
			if !errors.Is(err, ErrTampered) {
				t.Fatalf("error not wrapping ErrTampered: %v", err)
			}
			return
		}
		if int64(len(b)) != sealedSize(int64(len(p))) {
			t.Fatalf("accepted %d bytes as %d of plaintext", len(b), len(p))
		}
	})
}

func TestParseContentRange(t *testing.T) {
	for _, c := range []struct {
		in                 string
		first, last, total int64
		ok                 bool
	}{
		{"bytes 0-9/10", 0, 9, 10, true},
		{"bytes 40-65591/131184", 40, 65591, 131184, true},
		{"bytes */10", 0, 0, 0, false},
		{"0-9/10", 0, 0, 0, false},
		{"bytes 5-9/3", 0, 0, 0, false},
		{"bytes 5-9/9", 0, 0, 0, false},
		{"bytes 9-5/10", 0, 0, 0, false},
		{"bytes -1-9/10", 0, 0, 0, false},
		{"bytes 0-x/10", 0, 0, 0, false},
	} {
		first, last, total, ok := parseContentRange(c.in)
		if ok != c.ok || ok && (first != c.first || last != c.last || total != c.total) {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v", c.in, first, last, total, ok)
		}
	}
}
