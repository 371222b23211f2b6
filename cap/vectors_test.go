package cap

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/lafs/lafs/internal/vectors"
)

// TestGridVectors checks the caps a live Tahoe 1.20 grid handed out: each
// parses and round-trips, diminishes to the read cap Tahoe gave, has the
// storage index Tahoe printed, and its verify cap is the same whether
// derived from the write or the read cap.
func TestGridVectors(t *testing.T) {
	var grid struct {
		Objects []struct {
			Kind         string  `json:"kind"`
			Cap          string  `json:"cap"`
			ReadonlyCap  string  `json:"readonly_cap"`
			StorageIndex *string `json:"storage_index"`
		} `json:"objects"`
	}
	if err := json.Unmarshal(vectors.Read(t, "tahoe120_grid.json"), &grid); err != nil {
		t.Fatal(err)
	}
	if len(grid.Objects) == 0 {
		t.Fatal("no objects")
	}
	for _, o := range grid.Objects {
		c := mustRoundTrip(t, o.Cap)
		ro := mustRoundTrip(t, o.ReadonlyCap)
		if got := c.ReadOnly().String(); got != o.ReadonlyCap {
			t.Errorf("%s: ReadOnly = %s, want %s", o.Kind, got, o.ReadonlyCap)
		}
		if ro.ReadOnly() != ro || !ro.IsReadOnly() {
			t.Errorf("%s: the read cap is not its own read cap", o.Kind)
		}
		if IsDir(c) != strings.HasPrefix(o.Kind, "dir") {
			t.Errorf("%s: IsDir = %v", o.Kind, IsDir(c))
		}
		wantMutable := !strings.Contains(o.Kind, "chk") && o.Kind != "lit"
		if c.IsMutable() != wantMutable || ro.IsMutable() != wantMutable {
			t.Errorf("%s: IsMutable = %v", o.Kind, c.IsMutable())
		}
		if c.IsReadOnly() != !wantMutable {
			t.Errorf("%s: IsReadOnly = %v", o.Kind, c.IsReadOnly())
		}
		for _, x := range []Cap{c, ro} {
			si, ok := StorageIndex(x)
			switch {
			case o.StorageIndex == nil && ok:
				t.Errorf("%s: %s has storage index %s, want none", o.Kind, x, si)
			case o.StorageIndex != nil && (!ok || si.String() != *o.StorageIndex):
				t.Errorf("%s: %s has storage index %s, want %s", o.Kind, x, si, *o.StorageIndex)
			}
		}
		v := c.Verifier()
		if o.Kind == "lit" {
			if v != nil || ro.Verifier() != nil {
				t.Errorf("lit: has a verify cap %v", v)
			}
			continue
		}
		if v == nil || ro.Verifier() == nil || v.String() != ro.Verifier().String() {
			t.Errorf("%s: verify caps differ: %v, %v", o.Kind, v, ro.Verifier())
			continue
		}
		v = mustRoundTrip(t, v.String())
		if !IsVerifier(v) || v.Verifier() != v || v.ReadOnly() != v || v.IsMutable() || !v.IsReadOnly() {
			t.Errorf("%s: verify cap %s misbehaves", o.Kind, v)
		}
		if IsDir(v) != IsDir(c) {
			t.Errorf("%s: verify cap %s of another family", o.Kind, v)
		}
		if si, _ := StorageIndex(v); si.String() != *o.StorageIndex {
			t.Errorf("%s: verify cap storage index %s", o.Kind, si)
		}
	}
}

// TestYAMLVectors parses every cap in Tahoe's integration test vectors.
func TestYAMLVectors(t *testing.T) {
	var doc struct {
		Vector []struct {
			Expected string `yaml:"expected"`
			Format   struct {
				Kind   string `yaml:"kind"`
				Params *struct {
					Format string `yaml:"format"`
				} `yaml:"params"`
			} `yaml:"format"`
			Zfec struct {
				Required int `yaml:"required"`
				Total    int `yaml:"total"`
			} `yaml:"zfec"`
			Sample struct {
				Length uint64 `yaml:"length"`
			} `yaml:"sample"`
		} `yaml:"vector"`
	}
	if err := yaml.Unmarshal(vectors.Read(t, "test_vectors.yaml"), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Vector) != 360 {
		t.Errorf("%d vectors, want 360", len(doc.Vector))
	}
	for i, v := range doc.Vector {
		c := mustRoundTrip(t, v.Expected)
		switch c := c.(type) {
		case *CHK:
			if v.Format.Kind != "chk" || c.K != v.Zfec.Required || c.N != v.Zfec.Total || c.Size != v.Sample.Length {
				t.Errorf("vector %d: %s does not match k=%d N=%d size=%d", i, c, v.Zfec.Required, v.Zfec.Total, v.Sample.Length)
			}
		case *MutableWrite:
			if v.Format.Kind != "ssk" || v.Format.Params == nil || !strings.EqualFold(c.Format.String(), v.Format.Params.Format) {
				t.Errorf("vector %d: %s is not of format %+v", i, c, v.Format)
			}
		default:
			t.Errorf("vector %d: %s is a %T", i, c, c)
		}
		// Diminished forms round-trip too.
		mustRoundTrip(t, c.ReadOnly().String())
		mustRoundTrip(t, c.Verifier().String())
	}
}

func mustRoundTrip(t *testing.T, s string) Cap {
	t.Helper()
	c, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	if _, ok := c.(*Unknown); ok {
		t.Fatalf("Parse(%s): unknown", s)
	}
	if got := c.String(); got != s {
		t.Fatalf("Parse(%s).String() = %s", s, got)
	}
	return c
}

// FuzzParse checks that Parse never panics, that what it accepts formats
// to a canonical string that parses back to itself (so canonical caps
// round-trip), that errors wrap ErrInvalid, and that diminishing works on
// anything parsed.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "URI:", "URI:LIT:", "URI:LIT:" + hello, "URI:DIR2-LIT:me",
		"URI:CHK:" + chkBody, "URI:CHK:" + k16 + ":" + h32 + ":101:256:" + maxUint64,
		"URI:CHK-Verifier:" + chkBody + ":x", "URI:DIR2-CHK:" + chkBody, "URI:DIR2-CHK-Verifier:" + chkBody,
		"URI:SSK:" + mutBody, "URI:SSK-RO:" + mutBody, "URI:SSK-Verifier:" + mutBody,
		"URI:MDMF:" + mutBody + ":3:131073", "URI:MDMF-RO:" + mutBody, "URI:MDMF-Verifier:" + mutBody,
		"URI:DIR2:" + mutBody, "URI:DIR2-RO:" + mutBody + "\n", "URI:DIR2-Verifier:" + mutBody,
		"URI:DIR2-MDMF:" + mutBody, "URI:DIR2-MDMF-RO:" + mutBody, "URI:DIR2-MDMF-Verifier:" + mutBody + ":",
		"ro.URI:SSK:" + mutBody, "imm.URI:DIR2-RO:" + mutBody, "ro.imm.URI:LIT:", "URI:NEW:x",
		"x-tahoe-future-test-mutable:", "URI:CHK:" + k16 + ":" + h32 + ":0:1:1",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, deepImmutable bool) {
		c, err := ParseChild(s, deepImmutable)
		if err != nil {
			if c != nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseChild(%q) = %v, %v", s, c, err)
			}
			return
		}
		out := c.String()
		if _, ok := c.(*Unknown); ok {
			if out != s {
				t.Fatalf("Unknown(%q).String() = %q", s, out)
			}
			return
		}
		if (deepImmutable || strings.HasPrefix(s, ImmutablePrefix)) && c.IsMutable() {
			t.Fatalf("ParseChild(%q, %v) is mutable", s, deepImmutable)
		}
		if strings.HasPrefix(s, ReadOnlyPrefix) && !c.IsReadOnly() {
			t.Fatalf("ParseChild(%q) is not read-only", s)
		}
		for _, d := range []Cap{c, c.ReadOnly(), c.Verifier()} {
			if d == nil {
				continue
			}
			p, err := Parse(d.String())
			if err != nil || p.String() != d.String() {
				t.Fatalf("%q: Parse(%q) = %v, %v", s, d, p, err)
			}
			StorageIndex(d)
		}
	})
}
