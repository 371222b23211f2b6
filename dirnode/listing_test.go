package dirnode

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/internal/vectors"
	"github.com/lafs/lafs/pyjson"
)

// TestWebAPIListings rebuilds every directory listing that
// tahoe120_webapi.json recorded from a live Tahoe 1.20 node (files of every
// format, subdirectories, immutable directories, unknown caps with "ro."
// and "imm." prefixes, read-only views) out of the caps and metadata it
// shows, and checks that JSON writes Tahoe's answer.
func TestWebAPIListings(t *testing.T) {
	var rec struct {
		Exchanges []struct {
			Name     string `json:"name"`
			Response struct {
				Status   int             `json:"status"`
				BodyJSON json.RawMessage `json:"body_json"`
			} `json:"response"`
		} `json:"exchanges"`
	}
	if err := json.Unmarshal(vectors.Read(t, "tahoe120_webapi.json"), &rec); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, ex := range rec.Exchanges {
		if ex.Response.Status != 200 || len(ex.Response.BodyJSON) == 0 || ex.Response.BodyJSON[0] != '[' {
			continue
		}
		v, err := pyjson.Parse(ex.Response.BodyJSON)
		if err != nil {
			t.Fatal(err)
		}
		arr := v.([]any)
		if arr[0] != "dirnode" {
			continue
		}
		seen++
		top := arr[1].(*Object)
		dirS, ok := top.Get("rw_uri")
		if !ok {
			dirS, _ = top.Get("ro_uri")
		}
		d := parseDir(t, dirS.(string))
		mutable, _ := top.Get("mutable")
		kidsV, _ := top.Get("children")
		kids := kidsV.(*Object)
		var entries []Entry
		for _, name := range kids.Keys() {
			kv, _ := kids.Get(name)
			pair := kv.([]any)
			props := pair[1].(*Object)
			rw, _ := props.Get("rw_uri")
			ro, _ := props.Get("ro_uri")
			md, _ := props.Get("metadata")
			rws, _ := rw.(string)
			ros, _ := ro.(string)
			e, err := NewEntry(name, rws, ros, md.(*Object), mutable == false)
			if err != nil {
				t.Fatalf("%s: %q: %v", ex.Name, name, err)
			}
			if e.Kind().String() != pair[0] {
				t.Errorf("%s: %q is a %v, Tahoe says %v", ex.Name, name, e.Kind(), pair[0])
			}
			entries = append(entries, e)
		}
		got, err := JSON(d, entries)
		if err != nil {
			t.Fatal(err)
		}
		checkTJSON(t, ex.Name, got, ex.Response.BodyJSON)

		// The listing survives packing, for every directory kind.
		var key []byte
		if w, ok := d.File.(*cap.MutableWrite); ok {
			key = w.WriteKey[:]
		}
		packed, err := Pack(entries, key, mutable == false)
		if err != nil {
			t.Fatalf("%s: %v", ex.Name, err)
		}
		back, err := Unpack(packed, key, mutable == false)
		if err != nil {
			t.Fatal(err)
		}
		again, err := JSON(d, back)
		if err != nil {
			t.Fatal(err)
		}
		checkTJSON(t, ex.Name+" after Pack/Unpack", again, ex.Response.BodyJSON)
	}
	if seen < 8 {
		t.Errorf("checked %d listings, want at least 8", seen)
	}
}

func TestJSONShapes(t *testing.T) {
	lit, err := NewEntry("lit", "", "URI:LIT:", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := JSON(&cap.Dir{File: &cap.LIT{}}, []Entry{lit})
	if err != nil {
		t.Fatal(err)
	}
	want := `[
 "dirnode",
 {
  "children": {
   "lit": [
    "filenode",
    {
     "mutable": false,
     "format": "CHK",
     "size": 0,
     "metadata": {},
     "ro_uri": "URI:LIT:"
    }
   ]
  },
  "ro_uri": "URI:DIR2-LIT:",
  "mutable": false
 }
]
`
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	// A read-only view never shows write caps, and an entry with no caps
	// is listed as an unknown with only its metadata.
	w, _ := NewEntry("w", sdmfW.String(), "", nil, false)
	none, _ := NewEntry("none", "", "", nil, false)
	ro := &cap.Dir{File: sdmfW.ReadOnly()}
	got, err = JSON(ro, []Entry{w, none})
	if err != nil {
		t.Fatal(err)
	}
	var v []any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatal(err)
	}
	kids := v[1].(map[string]any)["children"].(map[string]any)
	if _, ok := kids["w"].([]any)[1].(map[string]any)["rw_uri"]; ok {
		t.Error("rw_uri in a read-only listing")
	}
	if n := kids["none"].([]any); n[0] != "unknown" || len(n[1].(map[string]any)) != 1 {
		t.Errorf("entry without caps: %v", n)
	}
	if _, ok := v[1].(map[string]any)["rw_uri"]; ok {
		t.Error("read-only directory shows its rw_uri")
	}

	for _, c := range []cap.Cap{chkCap, &cap.Dir{File: sdmfW.Verifier()}, &cap.Unknown{S: "URI:X:"}} {
		if _, err := JSON(c, nil); !errors.Is(err, ErrNotDir) {
			t.Errorf("%s: %v", c, err)
		}
	}
}
