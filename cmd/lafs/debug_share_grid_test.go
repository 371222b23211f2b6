package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend/disk"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/grid"
	"github.com/lafs/lafs/storage"
)

// diskGrid is ten storage servers keeping their shares in node
// directories on disk, as lafs nodes do, and a client of them.
type diskGrid struct {
	nodes   []string
	disks   []*disk.Disk
	servers []*lafs.Server
}

func (g *diskGrid) ServersFor(si lafs.StorageIndex) []*lafs.Server {
	return grid.Permute(si, g.servers)
}

// openDiskGrid opens the servers of the node directories (new or not).
func openDiskGrid(t *testing.T, nodes []string) *diskGrid {
	t.Helper()
	g := &diskGrid{nodes: nodes}
	for i, n := range nodes {
		d, err := disk.Open(filepath.Join(n, "storage"))
		if err != nil {
			t.Fatal(err)
		}
		seed := sha256.Sum256(fmt.Appendf(nil, "debug share grid %d", i))
		var id lafs.NodeID
		copy(id[:], seed[:])
		s, err := storage.New(d, storage.Config{NodeID: id})
		if err != nil {
			t.Fatal(err)
		}
		g.disks = append(g.disks, d)
		g.servers = append(g.servers, &lafs.Server{ID: fmt.Sprintf("v0-disk-%d", i), NodeID: id,
			PermutationSeed: seed[:], Storage: s, Latency: new(lafs.Latency)})
	}
	return g
}

// close closes the servers' disks, so that every change is in the share
// files.
func (g *diskGrid) close(t *testing.T) {
	t.Helper()
	for _, d := range g.disks {
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func (g *diskGrid) client(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{
		Params:      lafs.Params{K: 3, Happy: 7, N: 10, SegmentSize: 128 << 10},
		Convergence: []byte("debug share test"), LeaseSecret: []byte("debug share lease secret"),
		Peers: g, TempDir: t.TempDir(), MutableRetryDelay: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDebugSharesOwnGrid runs the share tools on what lafs's own storage
// servers wrote to disk: find-shares finds every share of a CHK, an SDMF
// and an MDMF file by cap, catalog-shares and dump-share describe them as
// their caps say, and corrupt-share damages them so that a download fails
// once too few good shares are left, and works again when the same bits
// are flipped back.
func TestDebugSharesOwnGrid(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	var nodes []string
	for i := range 10 {
		nodes = append(nodes, filepath.Join(base, fmt.Sprintf("node-%d", i)))
	}
	g := openDiskGrid(t, nodes)
	c := g.client(t)
	chkData := bytes.Repeat([]byte("lafs debug share tools. "), 20000) // 480,000 bytes: 4 segments
	up, err := c.Upload(ctx, bytes.NewReader(chkData), int64(len(chkData)), client.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sdmf, err := c.CreateMutable(ctx, []byte("an SDMF file"), cap.SDMF)
	if err != nil {
		t.Fatal(err)
	}
	mdmf, err := c.CreateMutable(ctx, bytes.Repeat([]byte("MDMF "), 60000), cap.MDMF)
	if err != nil {
		t.Fatal(err)
	}
	g.close(t)
	now := time.Now()

	caps := map[string]cap.Cap{"CHK": up.Cap, "SDMF": sdmf, "MDMF": mdmf}
	shares := map[string][]string{}
	for kind, k := range caps {
		out, _, err := debugRun(t, now, append([]string{"find-shares", k.String()}, nodes...)...)
		if err != nil {
			t.Fatal(err)
		}
		shares[kind] = strings.Fields(out)
		if len(shares[kind]) != 10 {
			t.Fatalf("%s: find-shares found %d shares:\n%s", kind, len(shares[kind]), out)
		}
		for _, p := range shares[kind] {
			out, _, err := debugRun(t, now, "dump-share", p)
			if err != nil {
				t.Fatalf("%s: %v", kind, err)
			}
			if !strings.Contains(out, "verify-cap: "+k.Verifier().String()+"\n") {
				t.Errorf("%s: dump-share does not give the verify cap:\n%s", kind, out)
			}
		}
	}

	out, stderr, err := debugRun(t, now, append([]string{"catalog-shares"}, nodes...)...)
	if err != nil || stderr != "" {
		t.Fatalf("%v %s", err, stderr)
	}
	chk := up.Cap.(*cap.CHK)
	counts := map[string]int{}
	// Leases run 31 days (2,678,400 s) from the upload, a moment ago.
	expiry := `267\d{4}`
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		for kind, re := range map[string]*regexp.Regexp{
			"CHK":  regexp.MustCompile(`^CHK ` + chk.StorageIndex().String() + ` 3/10 480000 ` + b32(chk.UEBHash[:]) + ` ` + expiry + ` '/`),
			"SDMF": regexp.MustCompile(`^SDMF ` + sdmf.(*cap.MutableWrite).StorageIndex().String() + ` 3/10 12 #1:[a-z2-7]{52} ` + expiry + ` '/`),
			"MDMF": regexp.MustCompile(`^MDMF ` + mdmf.(*cap.MutableWrite).StorageIndex().String() + ` 3/10 300000 #1:[a-z2-7]{52} ` + expiry + ` '/`),
		} {
			if re.MatchString(l) {
				counts[kind]++
			}
		}
	}
	if counts["CHK"] != 10 || counts["SDMF"] != 10 || counts["MDMF"] != 10 {
		t.Errorf("catalog lines by kind: %v\n%s", counts, out)
	}

	// Damage the first block of 8 of the CHK file's 10 shares: 2 good ones
	// are too few. (A random bit of each would likely hit different
	// segments, leaving each enough good blocks.)
	read := func(k cap.Cap) error {
		g := openDiskGrid(t, nodes)
		defer g.close(t)
		c := g.client(t)
		if k.IsMutable() {
			m, err := c.OpenMutable(ctx, k)
			if err != nil {
				return err
			}
			_, err = m.Read(ctx)
			return err
		}
		f, err := c.OpenFile(ctx, k)
		if err != nil {
			return err
		}
		got, err := io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
		if err == nil && !bytes.Equal(got, chkData) {
			t.Fatal("the download differs from the upload")
		}
		return err
	}
	for _, p := range shares["CHK"][:8] {
		out, _, err := debugRun(t, now, "corrupt-share", "--offset", "53", "--bit", "2", p)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^\[48\.\.\d+\):  53\.b2\n$`).MatchString(out) {
			t.Fatalf("corrupt-share printed %q", out)
		}
	}
	if err := read(up.Cap); err == nil {
		t.Fatal("the CHK file downloads with 8 of its 10 shares damaged")
	}
	for _, p := range shares["CHK"][:8] {
		if _, _, err := debugRun(t, now, "corrupt-share", "--offset", "53", "--bit", "2", p); err != nil {
			t.Fatal(err)
		}
	}
	if err := read(up.Cap); err != nil {
		t.Fatalf("the CHK file does not download with its shares repaired by hand: %v", err)
	}

	// The same for the MDMF file: the first block of 8 of its 10 shares,
	// after the block's salt.
	mdmfFlips := map[string]string{}
	for _, p := range shares["MDMF"][:8] {
		out, _, err := debugRun(t, now, "dump-share", "--offsets", p)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`\n    block data: (\d+) `).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no block data offset in\n%s", out)
		}
		var off int
		fmt.Sscan(m[1], &off)
		mdmfFlips[p] = fmt.Sprint(off + 20)
		if _, _, err := debugRun(t, now, "corrupt-share", "--offset", mdmfFlips[p], p); err != nil {
			t.Fatal(err)
		}
	}
	if err := read(mdmf); err == nil {
		t.Fatal("the MDMF file reads with 8 of its 10 shares damaged")
	}
	if err := read(sdmf); err != nil {
		t.Fatalf("the SDMF file, untouched, does not read: %v", err)
	}
}
