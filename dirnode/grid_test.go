package dirnode

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/immutable"
	"github.com/lafs/lafs/internal/tahoevec"
	"github.com/lafs/lafs/pyjson"
	"github.com/lafs/lafs/zfec"
)

// dir2CHKPlaintext is the packed immutable directory of the grid's DIR2-CHK
// object (TAHOE-NOTES §6): two children, metadata {} as t=mkdir-immutable
// stores it.
const dir2CHKPlaintext = "115:5:a.txt,95:URI:CHK:kenxujvruyqczucobziasmfbo4:jcecirtzfeyd4wdy67vxufbto5lwnhdoh37tc5i54ty54sjyokhq:3:10:65,0:,2:{},," +
	"30:5:b.txt,10:URI:LIT:mi,0:,2:{},,"

func gridObject(t *testing.T, kind string) tahoevec.GridObject {
	t.Helper()
	for _, o := range tahoevec.LoadGrid(t).Objects {
		if o.Kind == kind {
			return o
		}
	}
	t.Fatalf("no %s object in tahoe120_grid.json", kind)
	return tahoevec.GridObject{}
}

func parseDir(t *testing.T, s string) *cap.Dir {
	t.Helper()
	c, err := cap.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := c.(*cap.Dir)
	if !ok {
		t.Fatalf("%s is a %T", s, c)
	}
	return d
}

// checkTJSON compares our t=json listing with the one Tahoe recorded: as
// parsed JSON (every key and value), and as bytes, with Tahoe's recorded
// answer rewritten in the form json.dumps(indent=1) gives it (the vector
// file keeps Tahoe's key order).
func checkTJSON(t *testing.T, what string, got []byte, want json.RawMessage) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: our t=json is not JSON: %v\n%s", what, err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: t=json differs\n got: %s\nwant: %s", what, got, want)
	}
	v, err := pyjson.Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	wantB, err := pyjson.MarshalIndent(v, 1)
	if err != nil {
		t.Fatal(err)
	}
	if wantB = append(wantB, '\n'); !bytes.Equal(got, wantB) {
		t.Errorf("%s: t=json bytes differ\n got: %s\nwant: %s", what, got, wantB)
	}
}

func TestGridDIR2CHK(t *testing.T) {
	o := gridObject(t, "dir2-chk")
	d := parseDir(t, o.Cap)
	chk := d.File.(*cap.CHK)
	var shares []immutable.Share
	for _, s := range o.Shares {
		data, err := tahoevec.ImmutableShareData(s.Container)
		if err != nil {
			t.Fatal(err)
		}
		shares = append(shares, immutable.ShareBytes(lafs.ShareNum(s.ShNum), data))
	}
	r, err := immutable.NewReader(context.Background(), chk, shares)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := r.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	plain := buf.Bytes()
	if string(plain) != dir2CHKPlaintext {
		t.Fatalf("plaintext\n got %q\nwant %q", plain, dir2CHKPlaintext)
	}

	entries, err := Unpack(plain, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := JSON(d, entries)
	if err != nil {
		t.Fatal(err)
	}
	checkTJSON(t, "dir2-chk", got, o.TJSON)

	again, err := Pack(entries, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, plain) {
		t.Errorf("re-pack\n got %q\nwant %q", again, plain)
	}

	// Uploading the packed bytes as Tahoe does (CHK, the client's
	// convergence secret, default parameters) gives the same cap.
	secret, err := lafs.ParseBase32(tahoevec.LoadGrid(t).ConvergenceB32)
	if err != nil {
		t.Fatal(err)
	}
	key, err := immutable.ConvergentKey(bytes.NewReader(again), uint64(len(again)), secret, lafs.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	var sink immutable.MemoryShares
	c, err := immutable.Encode(context.Background(), bytes.NewReader(again), uint64(len(again)), key, lafs.DefaultParams, &sink)
	if err != nil {
		t.Fatal(err)
	}
	if s := (&cap.Dir{File: c}).String(); s != o.Cap {
		t.Errorf("uploaded as %s, Tahoe made %s", s, o.Cap)
	}
}

// mutablePlaintext decodes a one-segment SDMF or MDMF file from the
// first k of its share containers. It checks no hash or signature: it is
// a test helper until package mutable can retrieve files (the directory
// tests below check the result through the directory format instead).
func mutablePlaintext(t *testing.T, o tahoevec.GridObject, readKey [16]byte) []byte {
	t.Helper()
	const containerHeader = 468
	var (
		k, n        int
		segSize, dl uint64
		salt        []byte
		blocks      [][]byte
		nums        []int
		version     byte = 0xff
	)
	for _, s := range o.Shares {
		c := s.Container
		dataLen := binary.BigEndian.Uint64(c[84:92])
		sh := c[containerHeader : containerHeader+dataLen]
		var block []byte
		switch sh[0] {
		case 0: // SDMF
			salt = sh[41:57]
			k, n = int(sh[57]), int(sh[58])
			dl = binary.BigEndian.Uint64(sh[67:75]) // one segment: its size is dl
			start, end := binary.BigEndian.Uint32(sh[87:91]), binary.BigEndian.Uint64(sh[91:99])
			block = sh[start:end]
		case 1: // MDMF, one segment: salt(16) || block, then the block hash tree
			k, n = int(sh[41]), int(sh[42])
			segSize, dl = binary.BigEndian.Uint64(sh[43:51]), binary.BigEndian.Uint64(sh[51:59])
			if dl > segSize {
				t.Fatalf("%s: %d bytes is more than one segment", o.Note, dl)
			}
			start, end := binary.BigEndian.Uint64(sh[99:107]), binary.BigEndian.Uint64(sh[107:115])
			salt, block = sh[start:start+16], sh[start+16:end]
		default:
			t.Fatalf("%s: share version %d", o.Note, sh[0])
		}
		if version != 0xff && version != sh[0] {
			t.Fatalf("%s: mixed share versions", o.Note)
		}
		version = sh[0]
		blocks = append(blocks, block)
		nums = append(nums, s.ShNum)
		if len(blocks) == k {
			break
		}
	}
	codec, err := zfec.New(k, n)
	if err != nil {
		t.Fatal(err)
	}
	primary, err := codec.Decode(blocks, nums)
	if err != nil {
		t.Fatal(err)
	}
	plain := bytes.Join(primary, nil)[:dl]
	dk := crypt.SSKDataKey(salt, readKey[:])
	if err := crypt.XORCTR(dk[:], plain); err != nil {
		t.Fatal(err)
	}
	return plain
}

func TestGridMutableDirs(t *testing.T) {
	for _, kind := range []string{"dir2", "dir2-mdmf"} {
		t.Run(kind, func(t *testing.T) {
			o := gridObject(t, kind)
			d := parseDir(t, o.Cap)
			w := d.File.(*cap.MutableWrite)
			plain := mutablePlaintext(t, o, w.ReadKey())

			entries, err := Unpack(plain, w.WriteKey[:], false)
			if err != nil {
				t.Fatal(err)
			}
			got, err := JSON(d, entries)
			if err != nil {
				t.Fatal(err)
			}
			checkTJSON(t, kind, got, o.TJSON)

			// Salts are deterministic and the metadata is written as
			// Python writes it, so re-packing gives Tahoe's bytes.
			again, err := Pack(entries, w.WriteKey[:], false)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, plain) {
				t.Errorf("re-pack differs\n got %q\nwant %q", again, plain)
			}

			// Every MAC is Tahoe's hmac over salt||ciphertext (readers
			// do not check it, so check it here).
			rest := plain
			for len(rest) > 0 {
				entry, r, err := crypt.ParseNetstring(rest)
				if err != nil {
					t.Fatal(err)
				}
				rest = r
				var f [4][]byte
				for i := range f {
					f[i], entry, _ = crypt.ParseNetstring(entry)
				}
				rw := f[2]
				key := crypt.DirnodeChildCapKey(rw[:16], w.WriteKey[:])
				if mac := crypt.TahoeHMAC(key[:], rw[:len(rw)-32]); !bytes.Equal(mac[:], rw[len(rw)-32:]) {
					t.Errorf("child %q: MAC differs", f[0])
				}
			}

			// Read through the read cap: the same children without their
			// write caps.
			roEntries, err := Unpack(plain, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range roEntries {
				if e.Write != nil {
					t.Errorf("read-only: %q has write cap %s", e.Name, e.Write)
				}
				if capString(e.Read) != capString(entries[i].Read) {
					t.Errorf("read-only: %q read cap %s, want %s", e.Name, e.Read, entries[i].Read)
				}
			}
			roJSON, err := JSON(d.ReadOnly(), roEntries)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(roJSON, []byte("rw_uri")) {
				t.Errorf("read-only listing shows write caps:\n%s", roJSON)
			}
		})
	}
}

// TestGridSubdirListing rebuilds the listing of the subdirectory (whose
// shares were not recorded) from the caps and metadata Tahoe listed: its
// child has a non-ASCII name.
func TestGridSubdirListing(t *testing.T) {
	o := gridObject(t, "dir2")
	v, err := pyjson.Parse(o.SubdirTJSON)
	if err != nil {
		t.Fatal(err)
	}
	top := v.([]any)[1].(*Object)
	rwAny, _ := top.Get("rw_uri")
	kidsAny, _ := top.Get("children")
	kids := kidsAny.(*Object)
	var entries []Entry
	for _, name := range kids.Keys() {
		kv, _ := kids.Get(name)
		props := kv.([]any)[1].(*Object)
		rw, _ := props.Get("rw_uri")
		ro, _ := props.Get("ro_uri")
		md, _ := props.Get("metadata")
		rws, _ := rw.(string)
		ros, _ := ro.(string)
		e, err := NewEntry(name, rws, ros, md.(*Object), false)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	if len(entries) != 1 || entries[0].Name != "caf\u00e9.txt" {
		t.Fatalf("entries %v", entries)
	}
	d := parseDir(t, rwAny.(string))
	got, err := JSON(d, entries)
	if err != nil {
		t.Fatal(err)
	}
	checkTJSON(t, "subdir", got, o.SubdirTJSON)

	// The same name, decomposed, is the same child.
	if Find(entries, "cafe\u0301.txt") != 0 {
		t.Error("Find does not normalise")
	}
	w := d.File.(*cap.MutableWrite)
	packed, err := Pack(entries, w.WriteKey[:], false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(packed, []byte("9:caf\xc3\xa9.txt,")) {
		t.Errorf("packed name not NFC UTF-8: %q", packed)
	}
}
