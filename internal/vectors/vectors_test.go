package vectors

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// files are the vectors the tests read, with the SHA-256 of each as
// recorded (before compression).
var files = map[string]string{
	"chk_intermediates.json":      "e3d2989dcf54360fc3324c732630c109cb7918d1a52a830da1c3a9a3e0858455",
	"hash_known_answers.json":     "d729e170c85bcdfcbeac0db95aed7ae347b34f533fc2bc1a276dcbe33d929355",
	"sdmf_old_shares.json":        "d8a092765a0cdc810c13b6a06684cedc0257853f63d03b9666a786710021d217",
	"spki-hash-test-vectors.yaml": "55cb817de442fa3409017c2a1be40b592871176c43150db7eaf6ffd11fb5fea6",
	"stored_shares.json":          "1fb5c8e0cc6bcf2a80e9f71373780c8637f3ed15b0aa5c1b03fe948f244d58ea",
	"tahoe120_grid.json":          "d957c80c06992adfbff4a5cba6be59ba1f2398ed10c492fe07147f2db4c11560",
	"tahoe120_webapi.json":        "7924382d01b0fb0393f842e798f809f71d4b8cd846a8fcfd9e8a5de2a8bcd467",
	"test_vectors.yaml":           "6632c76438a9710bb30487c65aa8ef5f17a683cbc4e9aab32e5120be49102fc3",
}

// TestInRepo reads every vector from the checkout's testdata/vectors (not
// from $LAFS_VECTORS) and checks that each is the file recorded.
func TestInRepo(t *testing.T) {
	t.Setenv("LAFS_VECTORS", "")
	d := Dir(t)
	_, file, _, _ := runtime.Caller(0)
	if want := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "vectors"); filepath.IsAbs(file) && !sameFile(d, want) {
		t.Errorf("Dir = %s, want %s", d, want)
	}
	for name, sum := range files {
		b := Read(t, name)
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: SHA-256 %x, want %s", name, got, sum)
		}
		// A second read comes from the cache, as a copy of its own.
		b[0] ^= 1
		if again := sha256.Sum256(Read(t, name)); hex.EncodeToString(again[:]) != sum {
			t.Errorf("%s: a caller's change reached the next reader", name)
		}
	}
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// TestOverride: $LAFS_VECTORS is read instead, plain and compressed files
// alike.
func TestOverride(t *testing.T) {
	d := t.TempDir()
	if err := os.WriteFile(filepath.Join(d, "plain.json"), []byte(`{"a": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	gz, err := os.ReadFile(filepath.Join(inRepo(t), "sdmf_old_shares.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "packed.json.gz"), gz, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LAFS_VECTORS", d)
	if got := string(Read(t, "plain.json")); got != `{"a": 1}` {
		t.Errorf("plain.json = %q", got)
	}
	if got := sha256.Sum256(Read(t, "packed.json")); hex.EncodeToString(got[:]) != files["sdmf_old_shares.json"] {
		t.Errorf("packed.json is not the decompressed file")
	}
}

func inRepo(t *testing.T) string {
	t.Helper()
	t.Setenv("LAFS_VECTORS", "")
	return Dir(t)
}

// TestMissingFails: a vector that is not there, a broken .gz and a
// $LAFS_VECTORS that is no folder each fail the test; none skips it.
func TestMissingFails(t *testing.T) {
	d := t.TempDir()
	if err := os.WriteFile(filepath.Join(d, "broken.json.gz"), []byte("not gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		env, name string
	}{
		{"", "no_such_vector.json"},
		{d, "no_such_vector.json"},
		{d, "broken.json"},
		{filepath.Join(d, "absent"), "tahoe120_webapi.json"},
	} {
		t.Setenv("LAFS_VECTORS", tt.env)
		r := &outcome{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			Read(r, tt.name)
		}()
		<-done
		if !r.failed || r.skipped {
			t.Errorf("LAFS_VECTORS=%q, Read(%q): failed %v, skipped %v; want a failure", tt.env, tt.name, r.failed, r.skipped)
		}
	}
}

// outcome is a testing.TB that notes a failure or a skip and ends the
// goroutine, as the real one would.
type outcome struct {
	testing.TB
	failed, skipped bool
}

func (o *outcome) Helper()               {}
func (o *outcome) Fatal(...any)          { o.failed = true; runtime.Goexit() }
func (o *outcome) Fatalf(string, ...any) { o.failed = true; runtime.Goexit() }
func (o *outcome) FailNow()              { o.failed = true; runtime.Goexit() }
func (o *outcome) Error(...any)          { o.failed = true }
func (o *outcome) Errorf(string, ...any) { o.failed = true }
func (o *outcome) Fail()                 { o.failed = true }
func (o *outcome) Skip(...any)           { o.skipped = true; runtime.Goexit() }
func (o *outcome) Skipf(string, ...any)  { o.skipped = true; runtime.Goexit() }
func (o *outcome) SkipNow()              { o.skipped = true; runtime.Goexit() }
