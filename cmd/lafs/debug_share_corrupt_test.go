package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// diffBits returns the offsets of the bytes that differ between a and b
// (of equal length) and the bits that differ in all.
func diffBits(a, b []byte) (offsets []int, bits int) {
	for i := range a {
		if x := a[i] ^ b[i]; x != 0 {
			offsets = append(offsets, i)
			for ; x != 0; x &= x - 1 {
				bits++
			}
		}
	}
	return offsets, bits
}

// TestCorruptShare flips bits of immutable, SDMF and MDMF shares: by
// default one random bit of the block data, in the range Tahoe's
// corrupt-share reports for the same files; or the bit asked for, anywhere,
// which flipping again undoes. The block data is all it touches: dump-share,
// which reads everything but the blocks, says the same before and after.
func TestCorruptShare(t *testing.T) {
	dir := t.TempDir()
	all := vectorShares(t)
	line := regexp.MustCompile(`^\[(\d+)\.\.(\d+)\):  (\d+)\.b([0-7])\n$`)
	for _, c := range []struct {
		si         string
		shnum      int
		start, end int // as Tahoe's corrupt-share printed them
	}{
		{"m7r4qvgbnxv5o6e6lblqj3bglm", 3, 48, 23382},    // CHK
		{"yjetultfbohvhvm3nctuywmng4", 0, 48, 152},      // CHK, version 1 container
		{"f6w2ksnfa5dmmkwzkart2j2yhu", 6, 1293, 1710},   // SDMF
		{"nxq4vhp7ifntsc4ycuciy5lxt4", 3, 1291, 1298},   // SDMF, version 1 container
		{"77yf6yars3ljmk3ghsfzmtndgi", 8, 2635, 102683}, // MDMF (Tahoe's refuses)
		{"ylgvpyxy7q45psy6tun72wuqie", 3, 48, 703214},   // CHK, three segments
		{"5jmjtod6gfz4k5bg4duzgepwha", 1, 2635, 2705},   // MDMF directory
	} {
		v := findVec(t, all, c.si, c.shnum, "")
		p := put(t, filepath.Join(dir, v.server), v.si, v.shnum, v.file)
		dumpBefore, _, err := debugRun(t, tahoeNow, "dump-share", "--offsets", p)
		if err != nil {
			t.Fatal(err)
		}

		prev := bytes.Clone(v.file)
		for range 20 {
			out, _, err := debugRun(t, tahoeNow, "corrupt-share", p)
			if err != nil {
				t.Fatalf("%s: %v", c.si, err)
			}
			m := line.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("%s: corrupt-share printed %q", c.si, out)
			}
			start, _ := strconv.Atoi(m[1])
			end, _ := strconv.Atoi(m[2])
			off, _ := strconv.Atoi(m[3])
			bit, _ := strconv.Atoi(m[4])
			if c.end != 0 && (start != c.start || end != c.end) {
				t.Errorf("%s: block data [%d..%d), Tahoe says [%d..%d)", c.si, start, end, c.start, c.end)
			}
			now, _ := os.ReadFile(p)
			offs, bits := diffBits(prev, now)
			if bits != 1 || offs[0] != off || now[off]^prev[off] != 1<<bit || off < start || off >= end {
				t.Fatalf("%s: printed %q, changed bytes %v (%d bits)", c.si, out, offs, bits)
			}
			prev = now
		}
		dumpAfter, _, err := debugRun(t, tahoeNow, "dump-share", "--offsets", p)
		if err != nil || dumpAfter != dumpBefore {
			t.Errorf("%s: dump-share changed with the block data:\n%s\n%s", c.si, dumpBefore, dumpAfter)
		}

		// A chosen bit, anywhere, undone by flipping it again.
		os.WriteFile(p, v.file, 0o644)
		for _, at := range []struct {
			offset string
			at     int
		}{{"0", 0}, {fmt.Sprint(c.start + 1), c.start + 1}, {"0x10", 16}} {
			for round := range 2 {
				out, _, err := debugRun(t, tahoeNow, "corrupt-share", "-o", at.offset, "--bit", "6", p)
				if err != nil {
					t.Fatalf("%s --offset %s: %v", c.si, at.offset, err)
				}
				now, _ := os.ReadFile(p)
				offs, bits := diffBits(v.file, now)
				if round == 1 {
					if bits != 0 {
						t.Errorf("%s --offset %s twice: bytes %v still differ", c.si, at.offset, offs)
					}
					continue
				}
				if want := fmt.Sprintf("[%d..%d):  %d.b6\n", c.start, c.end, at.at); out != want {
					t.Errorf("%s --offset %s: printed %q, want %q", c.si, at.offset, out, want)
				}
				if bits != 1 || offs[0] != at.at || now[at.at]^v.file[at.at] != 0x40 {
					t.Errorf("%s --offset %s: changed bytes %v", c.si, at.offset, offs)
				}
			}
		}
	}
}

func TestCorruptShareErrors(t *testing.T) {
	dir := t.TempDir()
	v := findVec(t, vectorShares(t), "m7r4qvgbnxv5o6e6lblqj3bglm", 3, "")
	p := put(t, dir, v.si, v.shnum, v.file)
	for _, args := range [][]string{
		{p, p},
		{},
		{"--bit", "8", p},
		{"--offset", "-3", p},
		{"--offset", "lots", p},
	} {
		if _, _, err := debugRun(t, tahoeNow, append([]string{"corrupt-share"}, args...)...); err == nil {
			t.Errorf("%q: no error", args)
		} else if _, ok := err.(*usageError); !ok {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	if _, _, err := debugRun(t, tahoeNow, "corrupt-share", "--offset", fmt.Sprint(len(v.file)), p); err == nil {
		t.Error("an offset past the end: no error")
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, v.file) {
		t.Error("a failed corrupt-share changed the file")
	}

	// A file that is no share: nothing to pick a byte in, but a byte
	// asked for is flipped.
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("no share here"), 0o644)
	if _, _, err := debugRun(t, tahoeNow, "corrupt-share", junk); err == nil {
		t.Error("a random bit of no share: no error")
	}
	out, _, err := debugRun(t, tahoeNow, "corrupt-share", "--offset", "2", "--bit", "0", junk)
	if b, _ := os.ReadFile(junk); err != nil || out != "2.b0\n" || string(b) != "no!share here" {
		t.Errorf("flipping a chosen bit of no share: %q %v %q", out, err, b)
	}
}
