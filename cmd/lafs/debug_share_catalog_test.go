package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lafs/lafs/storage"
)

// TestCatalogSharesDamaged catalogs a storage folder holding shares that
// cannot be read beside good ones: each bad one is reported on a line of
// standard error and the catalog goes on; files that are no container, or
// mutable containers of no known format, get Tahoe's UNKNOWN lines.
func TestCatalogSharesDamaged(t *testing.T) {
	dir := t.TempDir()
	node := filepath.Join(dir, "node")
	all := vectorShares(t)
	chk := findVec(t, all, "m7r4qvgbnxv5o6e6lblqj3bglm", 3, "")
	sdmf := findVec(t, all, "f6w2ksnfa5dmmkwzkart2j2yhu", 6, "")

	good := put(t, node, chk.si, 3, chk.file)
	truncated := put(t, node, chk.si, 4, chk.file[:100])
	garbage := put(t, node, chk.si, 5, []byte("this is not a share container at all"))
	odd := bytes.Clone(sdmf.file)
	odd[storage.MutableDataOffset] = 7 // share format version 7
	unknownMutable := put(t, node, sdmf.si, 1, odd)
	cut := put(t, node, sdmf.si, 2, sdmf.file[:1000])
	noLeases := bytes.Clone(chk.file[:len(chk.file)-storage.ImmutableLeaseSize])
	binary.BigEndian.PutUint32(noLeases[8:], 0)
	leaseless := put(t, node, chk.si, 6, noLeases)
	if err := os.MkdirAll(filepath.Join(node, "storage", "shares", sdmf.si[:2], sdmf.si, "3"), 0o755); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(node, "storage", "shares", sdmf.si[:2], sdmf.si, "3")
	// Uploads in progress are not catalogued, whether staged as Tahoe
	// stages them or as lafs does.
	incoming := filepath.Join(node, "storage", "shares", "incoming")
	if err := os.MkdirAll(filepath.Join(incoming, chk.si[:2], chk.si), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(incoming, chk.si+".7"), chk.file, 0o644)
	os.WriteFile(filepath.Join(incoming, chk.si[:2], chk.si, "8"), chk.file[:50], 0o644)
	put(t, filepath.Join(dir, "other"), sdmf.si, 6, sdmf.file)

	out, stderr, err := debugRun(t, tahoeNow, "catalog-shares", node, filepath.Join(dir, "no storage here"), filepath.Join(dir, "other"))
	if err != nil {
		t.Fatal(err)
	}
	q := func(p string) string { return quoteName(p, true) }
	wantLines := []string{
		"UNKNOWN mutable " + q(unknownMutable),
		"CHK m7r4qvgbnxv5o6e6lblqj3bglm 3/10 70000 5kv4xhrrmun3aant3wu2omziejnzfv3xyptnxlys64bhao6vm4cq 98410520 " + q(good),
		"UNKNOWN really-unknown " + q(garbage),
		"CHK m7r4qvgbnxv5o6e6lblqj3bglm 3/10 70000 5kv4xhrrmun3aant3wu2omziejnzfv3xyptnxlys64bhao6vm4cq 0 " + q(leaseless),
		"SDMF f6w2ksnfa5dmmkwzkart2j2yhu 3/10 1250 #2:o52mv6qip57qvcymmmyluk2vo7ag6yxgrcmbsgwpbky32uwt46iq 98410532 " +
			q(filepath.Join(dir, "other", "storage", "shares", "f6", sdmf.si, "6")),
	}
	if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("catalog:\n%s\nwant:\n%s", out, strings.Join(wantLines, "\n"))
	}
	errLines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(errLines) != 3 {
		t.Fatalf("stderr:\n%s", stderr)
	}
	for i, p := range []string{cut, folder, truncated} {
		if !strings.HasPrefix(errLines[i], "Error processing "+q(p)+": ") {
			t.Errorf("stderr line %d: %q, want an error about %s", i, errLines[i], p)
		}
		if strings.Count(errLines[i], p) != 1 {
			t.Errorf("stderr line %d names the file more than once: %q", i, errLines[i])
		}
	}
}
