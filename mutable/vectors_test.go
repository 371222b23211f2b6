package mutable

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/internal/tahoevec"
	"github.com/lafs/lafs/internal/vectors"
)

// tahoeFile is one mutable object Tahoe wrote: its cap, its shares' data
// by share number, and (for files) its plaintext.
type tahoeFile struct {
	name      string
	cap       cap.Cap // the file cap (a directory's inner cap)
	dir       bool
	plaintext []byte // nil for directories
	children  []string
	shares    map[int][]byte
}

// containerData unwraps a mutable container: the share data starts at
// offset 468 and its length is the big-endian uint64 at offset 84.
func containerData(t testing.TB, c []byte) []byte {
	t.Helper()
	if len(c) < 468 {
		t.Fatalf("mutable container of %d bytes", len(c))
	}
	n := binary.BigEndian.Uint64(c[84:])
	if n > uint64(len(c)-468) {
		t.Fatalf("container says %d bytes of data, has %d", n, len(c)-468)
	}
	return c[468 : 468+n]
}

// gridFiles returns the SDMF and MDMF files and directories of
// tahoe120_grid.json.
func gridFiles(t testing.TB) []tahoeFile {
	t.Helper()
	var out []tahoeFile
	for _, o := range tahoevec.LoadGrid(t).Objects {
		switch o.Kind {
		case "sdmf", "mdmf", "dir2", "dir2-mdmf":
		default:
			continue
		}
		c, err := cap.Parse(o.Cap)
		if err != nil {
			t.Fatal(err)
		}
		f := tahoeFile{name: o.Kind, cap: c, shares: map[int][]byte{}}
		if d, ok := c.(*cap.Dir); ok {
			f.cap, f.dir = d.File, true
			var tj []json.RawMessage
			var body struct {
				Children map[string]json.RawMessage `json:"children"`
			}
			if err := json.Unmarshal(o.TJSON, &tj); err != nil || len(tj) != 2 || json.Unmarshal(tj[1], &body) != nil {
				t.Fatalf("%s: t_json: %v", o.Kind, err)
			}
			for name := range body.Children {
				f.children = append(f.children, name)
			}
		} else {
			f.plaintext = o.Plaintext
		}
		for _, s := range o.Shares {
			f.shares[s.ShNum] = containerData(t, s.Container)
		}
		out = append(out, f)
	}
	if len(out) != 4 {
		t.Fatalf("found %d mutable objects in the grid, want 4", len(out))
	}
	return out
}

// oldFiles returns the SDMF files of sdmf_old_shares.json and the mutable
// file of stored_shares.json (mutable container v1).
func oldFiles(t testing.TB) []tahoeFile {
	t.Helper()
	var old struct {
		Cap       string            `json:"cap"`
		Plaintext string            `json:"plaintext_b64"`
		Shares    map[string]string `json:"shares"`
	}
	if err := json.Unmarshal(vectors.Read(t, "sdmf_old_shares.json"), &old); err != nil {
		t.Fatal(err)
	}
	var stored struct {
		Mutable struct {
			Cap       string                       `json:"cap"`
			Plaintext string                       `json:"plaintext_b64"`
			Shares    map[string]map[string]string `json:"shares"`
		} `json:"mutable"`
	}
	if err := json.Unmarshal(vectors.Read(t, "stored_shares.json"), &stored); err != nil {
		t.Fatal(err)
	}
	mk := func(name, c, pt string) tahoeFile {
		pc, err := cap.Parse(c)
		if err != nil {
			t.Fatal(err)
		}
		p, err := base64.StdEncoding.DecodeString(pt)
		if err != nil {
			t.Fatal(err)
		}
		return tahoeFile{name: name, cap: pc, plaintext: p, shares: map[int][]byte{}}
	}
	add := func(f tahoeFile, sh, b64 string) {
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := json.Unmarshal([]byte(sh), &n); err != nil {
			t.Fatal(err)
		}
		f.shares[n] = containerData(t, b)
	}
	a := mk("sdmf_old_shares", old.Cap, old.Plaintext)
	for sh, b := range old.Shares {
		add(a, sh, b)
	}
	b := mk("stored_shares", stored.Mutable.Cap, stored.Mutable.Plaintext)
	for _, shares := range stored.Mutable.Shares {
		for sh, c := range shares {
			add(b, sh, c)
		}
	}
	return []tahoeFile{a, b}
}
