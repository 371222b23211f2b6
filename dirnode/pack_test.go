package dirnode

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
)

// goldenCase is one directory of testdata/golden_pack.json, packed by an
// independent Python rendering of Tahoe's _pack_normalized_children
// (testdata/gen_golden.py).
type goldenCase struct {
	Name          string      `json:"name"`
	WriteKey      *string     `json:"writekey"`
	DeepImmutable bool        `json:"deep_immutable"`
	Children      [][4]string `json:"children"` // name, rw_uri, ro_uri (as the node holds them), metadata JSON
	Packed        []byte      `json:"packed_b64"`
}

func loadGolden(t testing.TB) []goldenCase {
	t.Helper()
	b, err := os.ReadFile("testdata/golden_pack.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func (c goldenCase) key(t testing.TB) []byte {
	if c.WriteKey == nil {
		return nil
	}
	k, err := hex.DecodeString(*c.WriteKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestGoldenPack(t *testing.T) {
	for _, c := range loadGolden(t) {
		t.Run(c.Name, func(t *testing.T) {
			key := c.key(t)
			var entries []Entry
			for _, ch := range c.Children {
				md, err := ParseObject([]byte(ch[3]))
				if err != nil {
					t.Fatalf("%q: %v", ch[0], err)
				}
				e, err := NewEntry(ch[0], ch[1], ch[2], md, c.DeepImmutable)
				if err != nil {
					t.Fatalf("%q: %v", ch[0], err)
				}
				if e.Name != NFC(ch[0]) {
					t.Errorf("NewEntry name %q, want NFC %q", e.Name, NFC(ch[0]))
				}
				entries = append(entries, e)
			}
			got, err := Pack(entries, key, c.DeepImmutable)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, c.Packed) {
				t.Fatalf("Pack differs from Python\n got %q\nwant %q", got, c.Packed)
			}
			back, err := Unpack(c.Packed, key, c.DeepImmutable)
			if err != nil {
				t.Fatal(err)
			}
			if len(back) != len(entries) {
				t.Fatalf("Unpack gave %d entries, want %d", len(back), len(entries))
			}
			for _, e := range entries {
				i := Find(back, e.Name)
				if i < 0 {
					t.Errorf("%q lost", e.Name)
					continue
				}
				b := back[i]
				if capString(b.Write) != capString(e.Write) || capString(b.Read) != capString(e.Read) {
					t.Errorf("%q: unpacked caps (%s, %s), want (%s, %s)", e.Name, b.Write, b.Read, e.Write, e.Read)
				}
			}
			again, err := Pack(back, key, c.DeepImmutable)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, c.Packed) {
				t.Errorf("re-pack differs\n got %q\nwant %q", again, c.Packed)
			}
		})
	}
}

// Caps of every kind, made from fixed keys.
var (
	testKey16 = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	testHash  = [32]byte{31: 7}
	sdmfW     = &cap.MutableWrite{Format: cap.SDMF, WriteKey: testKey16, Fingerprint: testHash}
	mdmfW     = &cap.MutableWrite{Format: cap.MDMF, WriteKey: [16]byte{9: 9}, Fingerprint: testHash}
	chkCap    = &cap.CHK{Key: testKey16, UEBHash: testHash, K: 3, N: 10, Size: 1000}
	litCap    = &cap.LIT{Data: []byte("hello")}
)

// everyKind returns one entry per kind of child, as NewEntry builds them.
func everyKind(t *testing.T) []Entry {
	t.Helper()
	caps := map[string][2]string{
		"chk":          {"", chkCap.String()},
		"lit":          {"", litCap.String()},
		"lit-empty":    {"", "URI:LIT:"},
		"sdmf":         {sdmfW.String(), ""},
		"sdmf-ro":      {"", sdmfW.ReadOnly().String()},
		"mdmf":         {mdmfW.String(), ""},
		"mdmf-ro":      {"", mdmfW.ReadOnly().String()},
		"dir":          {(&cap.Dir{File: sdmfW}).String(), ""},
		"dir-ro":       {"", (&cap.Dir{File: sdmfW.ReadOnly()}).String()},
		"dir-mdmf":     {(&cap.Dir{File: mdmfW}).String(), ""},
		"dir-mdmf-ro":  {"", (&cap.Dir{File: mdmfW.ReadOnly()}).String()},
		"dir-chk":      {"", (&cap.Dir{File: chkCap}).String()},
		"dir-lit":      {"", "URI:DIR2-LIT:"},
		"chk-verifier": {"", chkCap.Verifier().String()},
		"ssk-verifier": {"", sdmfW.Verifier().String()},
		"dir-verifier": {"", (&cap.Dir{File: sdmfW.Verifier()}).String()},
		"unknown-rw":   {"URI:NEWKIND:rw", "URI:NEWKIND:ro"},
		"unknown-ro":   {"", "URI:NEWKIND:ro-only"},
		"unknown-pre":  {"", "ro.URI:NEWKIND:prefixed"},
		"unknown-imm":  {"", "imm.URI:NEWKIND:imm"},
		"no caps":      {"", ""},
		"ünïcödé ✓ 😀":  {"", litCap.String()},
	}
	var out []Entry
	for name, c := range caps {
		md := &Object{}
		md.Set("user", name)
		e, err := NewEntry(name, c[0], c[1], md, false)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, e)
	}
	return out
}

func TestRoundTripEveryKind(t *testing.T) {
	entries := everyKind(t)
	key := testKey16[:]
	packed, err := Pack(entries, key, false)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Unpack(packed, key, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(entries) {
		t.Fatalf("%d entries back, want %d", len(back), len(entries))
	}
	for i := 1; i < len(back); i++ {
		if back[i-1].Name >= back[i].Name {
			t.Errorf("not sorted: %q before %q", back[i-1].Name, back[i].Name)
		}
	}
	for _, e := range entries {
		b := back[Find(back, e.Name)]
		if capString(b.Write) != capString(e.Write) || capString(b.Read) != capString(e.Read) {
			t.Errorf("%q: got (%v, %v), want (%v, %v)", e.Name, b.Write, b.Read, e.Write, e.Read)
		}
		u, _ := b.Metadata.Get("user")
		if u != e.Name {
			t.Errorf("%q: metadata %v", e.Name, u)
		}
	}

	// Read-only: the same caps without write caps, and rwcapdata empty.
	ro, err := Pack(entries, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	back, err = Unpack(ro, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b := back[Find(back, e.Name)]
		if b.Write != nil {
			t.Errorf("%q: write cap %v in a read-only directory", e.Name, b.Write)
		}
		if capString(b.Read) != capString(e.Read) {
			t.Errorf("%q: read cap %v, want %v", e.Name, b.Read, e.Read)
		}
	}
	// A writable directory read with its read cap: write caps hidden.
	back, err = Unpack(packed, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range back {
		if b.Write != nil {
			t.Errorf("%q: write cap visible without the write key", b.Name)
		}
	}
}

func TestEntryKinds(t *testing.T) {
	want := map[string]Kind{
		"chk": KindFile, "lit": KindFile, "sdmf": KindFile, "mdmf-ro": KindFile,
		"dir": KindDir, "dir-ro": KindDir, "dir-chk": KindDir, "dir-lit": KindDir,
		"chk-verifier": KindUnknown, "ssk-verifier": KindUnknown, "dir-verifier": KindUnknown,
		"unknown-rw": KindUnknown, "no caps": KindUnknown,
	}
	for _, e := range everyKind(t) {
		if k, ok := want[e.Name]; ok && e.Kind() != k {
			t.Errorf("%s: kind %v, want %v", e.Name, e.Kind(), k)
		}
	}
}

// TestNewEntryRules checks Tahoe's create_from_cap and UnknownNode rules.
func TestNewEntryRules(t *testing.T) {
	sdmfRO := sdmfW.ReadOnly().String()
	tests := []struct {
		name    string
		rw, ro  string
		deep    bool
		w, r    string // expected caps
		wantErr error
	}{
		{name: "write cap gives its read cap", rw: sdmfW.String(), w: sdmfW.String(), r: sdmfRO},
		{name: "known write cap ignores ro", rw: sdmfW.String(), ro: "URI:NEWKIND:x", w: sdmfW.String(), r: sdmfRO},
		{name: "read cap in the write slot", rw: sdmfRO, r: sdmfRO},
		{name: "ro. prefix on a known read cap", ro: "ro." + sdmfRO, r: sdmfRO},
		{name: "imm. prefix on a CHK", ro: "imm." + chkCap.String(), r: chkCap.String()},
		{name: "ro. prefix on a write cap", ro: "ro." + sdmfW.String(), wantErr: cap.ErrNotReadOnly},
		{name: "ro. prefixed write cap alone in rw", rw: "ro." + sdmfW.String(), wantErr: cap.ErrNotReadOnly},
		{name: "imm. prefix on a mutable read cap", ro: "imm." + sdmfRO, wantErr: cap.ErrNotImmutable},
		{name: "malformed known cap", ro: "URI:CHK:junk", wantErr: cap.ErrInvalid},
		{name: "unknown rw and ro", rw: "URI:NEW:w", ro: "URI:NEW:r", w: "URI:NEW:w", r: "ro.URI:NEW:r"},
		{name: "unknown ro", ro: "URI:NEW:r", r: "ro.URI:NEW:r"},
		{name: "unknown imm. kept", ro: "imm.URI:NEW:r", r: "imm.URI:NEW:r"},
		{name: "unknown rw alone", rw: "URI:NEW:w", wantErr: ErrUnknownWriteCap},
		{name: "prefixed unknown alone in rw", rw: "ro.URI:NEW:w", r: "ro.URI:NEW:w"},
		{name: "rw with imm. ro", rw: "URI:NEW:w", ro: "imm.URI:NEW:r", wantErr: cap.ErrNotImmutable},
		{name: "unknown rw, malformed known ro", rw: "URI:NEW:w", ro: "URI:SSK:junk", wantErr: cap.ErrInvalid},
		{name: "malformed known rw with good ro", rw: "URI:SSK:junk", ro: sdmfRO, w: "URI:SSK:junk", r: "ro." + sdmfRO},
		{name: "verifier is unknown", ro: sdmfW.Verifier().String(), r: "ro." + sdmfW.Verifier().String()},
		{name: "no caps", w: "", r: ""},
		{name: "deep: CHK", ro: chkCap.String(), deep: true, r: chkCap.String()},
		{name: "deep: unknown gets imm.", ro: "URI:NEW:r", deep: true, r: "imm.URI:NEW:r"},
		{name: "deep: ro. becomes imm.", ro: "ro.URI:NEW:r", deep: true, r: "imm.URI:NEW:r"},
		{name: "deep: imm. in rw moves to ro", rw: "imm.URI:NEW:r", deep: true, r: "imm.URI:NEW:r"},
		{name: "deep: mutable read cap", ro: sdmfRO, deep: true, wantErr: cap.ErrNotImmutable},
		{name: "deep: write cap alone (Tahoe: MustNotBeUnknownRWError)", rw: sdmfW.String(), deep: true, wantErr: ErrUnknownWriteCap},
		{name: "deep: write cap with its read cap", rw: sdmfW.String(), ro: sdmfW.ReadOnly().String(), deep: true, wantErr: cap.ErrNotImmutable},
		{name: "deep: unknown rw", rw: "URI:NEW:w", ro: "URI:NEW:r", deep: true, wantErr: cap.ErrNotImmutable},
		{name: "deep: unknown rw alone", rw: "URI:NEW:w", deep: true, wantErr: ErrUnknownWriteCap},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewEntry("x", tc.rw, tc.ro, nil, tc.deep)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !errors.Is(err, ErrBadEntry) {
					t.Fatalf("err %v, want %v and ErrBadEntry", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "junk") || strings.Contains(err.Error(), lafs.Base32(testKey16[:])) {
					t.Errorf("error shows the cap: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if capString(e.Write) != tc.w || capString(e.Read) != tc.r {
				t.Errorf("got (%q, %q), want (%q, %q)", capString(e.Write), capString(e.Read), tc.w, tc.r)
			}
		})
	}
}

// TestStoredPrefixes checks what lands in the ro_uri slot.
func TestStoredPrefixes(t *testing.T) {
	for _, tc := range []struct {
		ro     string
		deep   bool
		stored string
	}{
		{"ro.URI:NEW:x", false, "URI:NEW:x"},
		{"imm.URI:NEW:x", false, "imm.URI:NEW:x"},
		{"imm.URI:NEW:x", true, "URI:NEW:x"},
		{"URI:NEW:x", true, "URI:NEW:x"},
		{"ro." + sdmfW.Verifier().String(), false, sdmfW.Verifier().String()},
	} {
		e, err := NewEntry("n", "", tc.ro, nil, tc.deep)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Pack([]Entry{e}, nil, tc.deep)
		if err != nil {
			t.Fatal(err)
		}
		want := string(crypt.Netstring([]byte("1:n," + string(crypt.Netstring([]byte(tc.stored))) + "0:,2:{},")))
		if string(p) != want {
			t.Errorf("%q deep=%v: packed %q, want %q", tc.ro, tc.deep, p, want)
		}
	}
}

func TestDeepImmutable(t *testing.T) {
	for _, e := range everyKind(t) {
		_, err := Pack([]Entry{e}, nil, true)
		mutable := e.Write != nil || (e.Kind() != KindUnknown && e.Cap().IsMutable())
		switch {
		case mutable && (!errors.Is(err, ErrBadEntry) || !errors.Is(err, cap.ErrNotImmutable)):
			t.Errorf("%s: packed into an immutable directory: %v", e.Name, err)
		case !mutable && err != nil:
			t.Errorf("%s: %v", e.Name, err)
		}
	}
	// A write key makes no sense for an immutable directory.
	if _, err := Pack(nil, testKey16[:], true); err == nil {
		t.Error("Pack took a write key for an immutable directory")
	}
	if _, err := Unpack(nil, testKey16[:], true); err == nil {
		t.Error("Unpack took a write key for an immutable directory")
	}

	// Reading an immutable directory: mutable children are dropped
	// (Tahoe logs them), unknown ones get imm., rwcapdata is refused.
	entry := func(name, ro, rwcap string) string {
		return string(crypt.Netstring([]byte(string(crypt.Netstring([]byte(name))) +
			string(crypt.Netstring([]byte(ro))) + string(crypt.Netstring([]byte(rwcap))) + "2:{},")))
	}
	data := entry("a", chkCap.String(), "") + entry("b", sdmfW.ReadOnly().String(), "") +
		entry("c", (&cap.Dir{File: sdmfW}).String(), "") + entry("d", "URI:NEW:x", "")
	got, err := Unpack([]byte(data), nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "a" || got[1].Name != "d" || capString(got[1].Read) != "imm.URI:NEW:x" {
		t.Errorf("got %+v", got)
	}
	if _, err := Unpack([]byte(entry("a", chkCap.String(), "x")), nil, true); !errors.Is(err, ErrCorrupt) {
		t.Errorf("rwcapdata in an immutable directory: %v", err)
	}
}

// TestUnpackTahoeQuirks: trailing spaces, dropped children, duplicates,
// short rwcapdata, an empty directory, trailing bytes inside an entry.
func TestUnpackTahoeQuirks(t *testing.T) {
	key := testKey16[:]
	entry := func(name, ro string, rw *string, md string) []byte {
		var rwcap []byte
		if rw != nil {
			var err error
			if rwcap, err = encryptRW(key, []byte(*rw)); err != nil {
				t.Fatal(err)
			}
		}
		var b []byte
		b = crypt.AppendNetstring(b, []byte(name))
		b = crypt.AppendNetstring(b, []byte(ro))
		b = crypt.AppendNetstring(b, rwcap)
		b = crypt.AppendNetstring(b, []byte(md))
		return crypt.Netstring(b)
	}
	str := func(s string) *string { return &s }
	sdmfRO := sdmfW.ReadOnly().String()

	if got, err := Unpack(nil, key, false); err != nil || got != nil {
		t.Errorf("empty: %v %v", got, err)
	}
	if got, err := Pack(nil, key, false); err != nil || len(got) != 0 {
		t.Errorf("empty: %q %v", got, err)
	}

	var data []byte
	data = append(data, entry("spaces", sdmfRO+"   ", str(sdmfW.String()+"  "), "{}")...)
	data = append(data, entry("dropped", "ro."+sdmfW.String(), str(""), `{"x": 1}`)...)
	data = append(data, entry("dup", chkCap.String(), str(""), `{"n": 1}`)...)
	data = append(data, entry("no-rw", litCap.String(), nil, "{}")...)
	data = append(data, entry("e\u0301", litCap.String(), str(""), "{}")...)
	data = append(data, entry("dup", litCap.String(), str(""), `{"n": 2}`)...)
	data = append(data, entry("bad-md-but-dropped", "URI:SSK:junk", str(""), `not json`)...)
	data = append(data, entry("empty", "", str(""), ` { "a" : [ ] } `)...)
	// Bytes after the fourth netstring of an entry are ignored, as
	// Tahoe's split_netstring(entry, 4) ignores them.
	data = append(data, ns(ns("extra")+ns(litCap.String())+ns("")+ns("{}")+"junk")...)
	got, err := Unpack(data, key, false)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range got {
		names = append(names, e.Name)
	}
	if strings.Join(names, "|") != "spaces|dup|no-rw|\u00e9|empty|extra" {
		t.Fatalf("names %q", names)
	}
	if capString(got[0].Write) != sdmfW.String() || capString(got[0].Read) != sdmfRO {
		t.Errorf("spaces not stripped: %v %v", got[0].Write, got[0].Read)
	}
	if capString(got[1].Read) != litCap.String() {
		t.Errorf("duplicate: %v", got[1].Read)
	}
	if n, _ := got[1].Metadata.Get("n"); n != json.Number("2") {
		t.Errorf("duplicate metadata %v", n)
	}
	if got[4].Cap() != nil {
		t.Errorf("empty caps: %v", got[4].Cap())
	}
	md, _ := got[4].Metadata.MarshalJSON()
	if string(md) != `{"a": []}` {
		t.Errorf("metadata %s", md)
	}
}

// ns is a netstring, as a string.
func ns(s string) string { return string(crypt.Netstring([]byte(s))) }

func TestUnpackCorrupt(t *testing.T) {
	key := testKey16[:]
	for _, s := range []string{
		"x",
		"5:abc,",
		"3:abc",
		"03:abc,",
		ns(ns("a") + ns("") + ns("")), // three fields
		ns(ns("a") + ns("") + ns("") + ns("{}"))[:19] + "x",      // no closing comma
		ns(ns("\xff") + ns("") + ns("") + ns("{}")),              // name not UTF-8
		ns(ns("a") + ns("") + ns("") + ns("not")),                // metadata not JSON (no caps: not dropped)
		ns(ns("a") + ns("") + ns("") + ns("[]")),                 // metadata not an object
		ns(ns("a") + ns("") + ns("") + ns("{}xx")),               // data after the metadata object
		ns(ns("a") + ns(litCap.String()) + ns("") + ns(`{"a"}`)), // bad JSON on a kept child
		ns(ns("a")+ns("")+ns("")+ns("{}")) + "trailing",          // garbage after the entry
	} {
		if _, err := Unpack([]byte(s), key, false); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%q: err %v, want ErrCorrupt", s, err)
		}
	}
	if _, err := Unpack(nil, []byte("short"), false); err == nil {
		t.Error("Unpack took a 5-byte write key")
	}
}

func TestPackBadEntries(t *testing.T) {
	lit := func(name string) Entry { return Entry{Name: name, Read: litCap} }
	for _, tc := range []struct {
		name    string
		entries []Entry
	}{
		{"name not UTF-8", []Entry{lit("a\xffb")}},
		{"duplicate names", []Entry{lit("a"), lit("b"), lit("a")}},
		{"duplicate after NFC", []Entry{lit("\u00e9"), lit("e\u0301")}},
		{"mismatched read cap", []Entry{{Name: "a", Write: sdmfW, Read: mdmfW.ReadOnly()}}},
		{"unknown write cap alone", []Entry{{Name: "a", Write: &cap.Unknown{S: "URI:NEW:x"}}}},
		{"metadata of a type JSON cannot hold", []Entry{{Name: "a", Read: litCap, Metadata: func() *Object {
			o := &Object{}
			o.Set("c", make(chan int))
			return o
		}()}}},
	} {
		if _, err := Pack(tc.entries, testKey16[:], false); !errors.Is(err, ErrBadEntry) {
			t.Errorf("%s: err %v, want ErrBadEntry", tc.name, err)
		}
	}
	if _, err := Pack(nil, make([]byte, 32), false); err == nil {
		t.Error("Pack took a 32-byte write key")
	}
	// A read cap in the write field is just the read cap.
	p1, err := Pack([]Entry{{Name: "a", Write: sdmfW.ReadOnly()}}, testKey16[:], false)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := Pack([]Entry{{Name: "a", Read: sdmfW.ReadOnly()}}, testKey16[:], false)
	if !bytes.Equal(p1, p2) {
		t.Error("a read cap in Write packs differently")
	}
}

// TestRWCapData checks the encrypted write-cap field against Tahoe's
// construction and the constant salt of children without a write cap.
func TestRWCapData(t *testing.T) {
	key := testKey16[:]
	none, err := encryptRW(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(none) != 48 || hex.EncodeToString(none[:16]) != "d05f738a043b8404b7495ccb5d550186" {
		t.Errorf("empty rw cap: %x", none)
	}
	rw := []byte(sdmfW.String())
	enc, _ := encryptRW(key, rw)
	salt := crypt.DirnodeChildSalt(rw)
	ck := crypt.DirnodeChildCapKey(salt[:], key)
	ct := bytes.Clone(rw)
	if err := crypt.XORCTR(ck[:], ct); err != nil {
		t.Fatal(err)
	}
	mac := crypt.TahoeHMAC(ck[:], append(salt[:], ct...))
	want := append(append(salt[:], ct...), mac[:]...)
	if !bytes.Equal(enc, want) {
		t.Errorf("rwcapdata %x, want %x", enc, want)
	}
	dec, err := decryptRW(key, enc)
	if err != nil || !bytes.Equal(dec, rw) {
		t.Errorf("decrypt %q %v", dec, err)
	}
	for _, n := range []int{0, 1, 16, 47, 48} {
		if d, err := decryptRW(key, make([]byte, n)); err != nil || len(d) != 0 {
			t.Errorf("%d bytes: %q %v", n, d, err)
		}
	}
}

func FuzzUnpack(f *testing.F) {
	for _, c := range loadGolden(f) {
		f.Add(c.Packed, c.WriteKey != nil, c.DeepImmutable)
	}
	f.Add([]byte(dir2CHKPlaintext), false, true)
	f.Add([]byte("14:1:a,0:,0:,2:{},,"), true, false)
	f.Add([]byte(`30:1:a,13:URI:NEWKIND:x,0:,2:{},,`), false, false)
	f.Fuzz(func(t *testing.T, data []byte, writable, deep bool) {
		var key []byte
		if writable && !deep {
			key = testKey16[:]
		}
		entries, err := Unpack(data, key, deep)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not ErrCorrupt: %v", err)
			}
			return
		}
		// What Unpack returns packs, and packing is then stable.
		p1, err := Pack(entries, key, deep)
		if err != nil {
			t.Fatalf("Pack of unpacked entries: %v", err)
		}
		e2, err := Unpack(p1, key, deep)
		if err != nil {
			t.Fatalf("Unpack of Pack: %v", err)
		}
		p2, err := Pack(e2, key, deep)
		if err != nil {
			t.Fatalf("second Pack: %v", err)
		}
		if !bytes.Equal(p1, p2) {
			t.Fatalf("Pack not stable:\n%q\n%q", p1, p2)
		}
		if _, err := JSON(&cap.Dir{File: sdmfW}, entries); err != nil {
			t.Fatalf("JSON: %v", err)
		}
	})
}

// benchEntries is a directory of n children with Tahoe's usual metadata.
func benchEntries(b *testing.B, n int) []Entry {
	md := UpdateMetadata(nil, nil, testNow)
	out := make([]Entry, n)
	for i := range out {
		w := &cap.MutableWrite{Format: cap.SDMF, WriteKey: [16]byte{byte(i), byte(i >> 8)}, Fingerprint: testHash}
		e, err := NewEntry("file-"+strings.Repeat("x", i%20)+string(rune('a'+i%26))+hex.EncodeToString([]byte{byte(i), byte(i >> 8)}), w.String(), "", md, false)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = e
	}
	return out
}

func BenchmarkPack1000(b *testing.B) {
	entries := benchEntries(b, 1000)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Pack(entries, testKey16[:], false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnpack1000(b *testing.B) {
	packed, err := Pack(benchEntries(b, 1000), testKey16[:], false)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(packed)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Unpack(packed, testKey16[:], false); err != nil {
			b.Fatal(err)
		}
	}
}
