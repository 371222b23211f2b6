package dirnode

import (
	"errors"
	"testing"
	"time"

	"github.com/lafs/lafs/cap"
)

const testNow = 1795732144.6245465

// TestUpdateMetadata: the expected results are what Tahoe 1.20's own
// update_metadata returned for these inputs (run in Python, now =
// 1795732144.6245465), written with json.dumps.
func TestUpdateMetadata(t *testing.T) {
	for _, tc := range []struct{ old, md, want string }{
		{"", "", `{"tahoe": {"linkcrtime": 1795732144.6245465, "linkmotime": 1795732144.6245465}}`},
		{"", `{}`, `{"tahoe": {"linkcrtime": 1795732144.6245465, "linkmotime": 1795732144.6245465}}`},
		{"", `{"user": 1, "tahoe": {"linkcrtime": 5}}`, `{"user": 1, "tahoe": {"linkcrtime": 1795732144.6245465, "linkmotime": 1795732144.6245465}}`},
		{`{"tahoe": {"linkcrtime": 1.5, "linkmotime": 2.5}, "a": 1}`, "", `{"tahoe": {"linkcrtime": 1.5, "linkmotime": 1795732144.6245465}, "a": 1}`},
		{`{"tahoe": {"linkcrtime": 1.5, "linkmotime": 2.5}, "a": 1}`, `{"b": 2, "tahoe": "x"}`, `{"b": 2, "tahoe": {"linkcrtime": 1.5, "linkmotime": 1795732144.6245465}}`},
		{`{"ctime": 100.25, "mtime": 200.5}`, "", `{"ctime": 100.25, "mtime": 200.5, "tahoe": {"linkcrtime": 100.25, "linkmotime": 1795732144.6245465}}`},
		{`{"ctime": 100.25, "mtime": 200.5}`, `{"z": [1, {"q": null}]}`, `{"z": [1, {"q": null}], "tahoe": {"linkcrtime": 100.25, "linkmotime": 1795732144.6245465}}`},
		{`{"ctime": null}`, "", `{"ctime": null, "tahoe": {"linkcrtime": 1795732144.6245465, "linkmotime": 1795732144.6245465}}`},
		{`{"a": 1, "tahoe": {"linkmotime": 3}}`, `{}`, `{"tahoe": {"linkmotime": 1795732144.6245465, "linkcrtime": 1795732144.6245465}}`},
	} {
		parse := func(s string) *Object {
			if s == "" {
				return nil
			}
			o, err := ParseObject([]byte(s))
			if err != nil {
				t.Fatal(err)
			}
			return o
		}
		old, md := parse(tc.old), parse(tc.md)
		var oldBefore, mdBefore []byte
		if old != nil {
			oldBefore, _ = old.MarshalJSON()
		}
		if md != nil {
			mdBefore, _ = md.MarshalJSON()
		}
		got, err := UpdateMetadata(old, md, testNow).MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("UpdateMetadata(%s, %s)\n got %s\nwant %s", tc.old, tc.md, got, tc.want)
		}
		if old != nil {
			if after, _ := old.MarshalJSON(); string(after) != string(oldBefore) {
				t.Errorf("old metadata modified: %s", after)
			}
		}
		if md != nil {
			if after, _ := md.MarshalJSON(); string(after) != string(mdBefore) {
				t.Errorf("new metadata modified: %s", after)
			}
		}
	}
}

func TestTimestamp(t *testing.T) {
	if got := Timestamp(time.Unix(1795732144, 624546500)); got != 1795732144.6245465 {
		t.Errorf("%v", got)
	}
	if got := Timestamp(time.Unix(5, 0)); got != 5 {
		t.Errorf("%v", got)
	}
}

func TestAddSetDelete(t *testing.T) {
	file, _ := NewEntry("f", "", chkCap.String(), nil, false)
	dir, _ := NewEntry("d", (&cap.Dir{File: sdmfW}).String(), "", nil, false)
	entries, err := Add(nil, []Entry{file, dir}, ReplaceAny, 10)
	if err != nil {
		t.Fatal(err)
	}
	md, _ := entries[0].Metadata.MarshalJSON()
	if string(md) != `{"tahoe": {"linkcrtime": 10.0, "linkmotime": 10.0}}` {
		t.Errorf("new link metadata %s", md)
	}

	// Replacing keeps linkcrtime and the old user metadata when none is given.
	user := &Object{}
	user.Set("k", "v")
	entries, _ = SetMetadata(entries, "f", user, 11)
	f2, _ := NewEntry("f", "", litCap.String(), nil, false)
	entries, err = Add(entries, []Entry{f2}, ReplaceAny, 12)
	if err != nil {
		t.Fatal(err)
	}
	i := Find(entries, "f")
	md, _ = entries[i].Metadata.MarshalJSON()
	if string(md) != `{"k": "v", "tahoe": {"linkcrtime": 10.0, "linkmotime": 12.0}}` || capString(entries[i].Read) != litCap.String() {
		t.Errorf("replaced link: %s %v", md, entries[i].Read)
	}

	if _, err := Add(entries, []Entry{f2}, ReplaceNone, 13); !errors.Is(err, ErrExists) {
		t.Errorf("ReplaceNone: %v", err)
	}
	d2, _ := NewEntry("d", "", litCap.String(), nil, false)
	if _, err := Add(entries, []Entry{d2}, ReplaceOnlyFiles, 13); !errors.Is(err, ErrExists) {
		t.Errorf("ReplaceOnlyFiles over a directory: %v", err)
	}
	if _, err := Add(entries, []Entry{f2}, ReplaceOnlyFiles, 13); err != nil {
		t.Errorf("ReplaceOnlyFiles over a file: %v", err)
	}
	if _, err := Add(entries, []Entry{{Name: "x", Write: &cap.Unknown{S: "URI:NEW:"}}}, ReplaceAny, 13); !errors.Is(err, ErrBadEntry) {
		t.Errorf("bad node: %v", err)
	}

	// no-write links only the read cap.
	nw := &Object{}
	nw.Set(MetaNoWrite, true)
	got, err := SetMetadata(entries, "d", nw, 14)
	if err != nil {
		t.Fatal(err)
	}
	if d := got[Find(got, "d")]; d.Write != nil || capString(d.Read) != (&cap.Dir{File: sdmfW.ReadOnly()}).String() {
		t.Errorf("no-write: %v %v", d.Write, d.Read)
	}
	if entries[Find(entries, "d")].Write == nil {
		t.Error("SetMetadata modified its input")
	}
	nwAdd, _ := NewEntry("e\u0301", sdmfW.String(), "", nw, false)
	got, _ = Add(entries, []Entry{nwAdd}, ReplaceAny, 15)
	if e := got[Find(got, "\u00e9")]; e.Write != nil || e.Name != "\u00e9" {
		t.Errorf("no-write add: %+v", e)
	}

	if _, err := SetMetadata(entries, "missing", nw, 1); !errors.Is(err, ErrNoChild) {
		t.Errorf("SetMetadata of a missing child: %v", err)
	}
	left, removed, err := Delete(entries, "f")
	if err != nil || len(left) != len(entries)-1 || removed.Name != "f" || Find(left, "f") >= 0 {
		t.Errorf("Delete: %v %v %v", left, removed, err)
	}
	if _, _, err := Delete(entries, "missing"); !errors.Is(err, ErrNoChild) {
		t.Errorf("Delete of a missing child: %v", err)
	}
}
