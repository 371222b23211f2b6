package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/client"
	"github.com/lafs/lafs/grid"
	"github.com/lafs/lafs/node"
)

// liveTahoe is a running Tahoe 1.20 grid (../shared/tahoe-ref): its
// client's web API and the folder of its nodes.
type liveTahoe struct {
	web, dir string
}

func tahoeGrid(t *testing.T) liveTahoe {
	web, dir := os.Getenv("TAHOE_WEB"), os.Getenv("TAHOE_GRID")
	if web == "" || dir == "" {
		t.Skip("skipped: no live Tahoe 1.20 grid (set TAHOE_WEB and TAHOE_GRID, see ../shared/tahoe-ref)")
	}
	if _, err := http.Get(web); err != nil {
		t.Skipf("skipped: Tahoe's web API at %s does not answer: %v", web, err)
	}
	return liveTahoe{web, dir}
}

func (l liveTahoe) do(t *testing.T, method, path string, body []byte) []byte {
	t.Helper()
	return httpDo(t, method, l.web+path, body)
}

// shareFile is where a Tahoe storage node keeps share sh of si.
func (l liveTahoe) shareFile(t *testing.T, si lafs.StorageIndex, sh int) string {
	t.Helper()
	s := si.String()
	m, _ := filepath.Glob(filepath.Join(l.dir, "s*", "storage", "shares", s[:2], s, fmt.Sprint(sh)))
	if len(m) != 1 {
		t.Fatalf("share %d of %s: found %v", sh, s, m)
	}
	return m[0]
}

// lafsClient is a lafs client using the Tahoe grid's storage servers, as
// its introducer announced them to Tahoe's client.
func (l liveTahoe) lafsClient(t *testing.T) *client.Client {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(l.dir, "client", "private", "introducer_default_cache.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cache []struct {
		Ann  map[string]any `yaml:"ann"`
		KeyS string         `yaml:"key_s"`
	}
	if err := yaml.Unmarshal(b, &cache); err != nil {
		t.Fatal(err)
	}
	broker := grid.NewBroker(func(ctx context.Context, nurl string) (lafs.StorageServer, error) {
		return node.DialStorageWith(ctx, nurl, nil)
	}, slog.New(slog.DiscardHandler))
	t.Cleanup(broker.Close)
	for _, e := range cache {
		a, err := grid.AnnouncementFromMap(e.Ann)
		if err != nil {
			t.Fatal(err)
		}
		if err := broker.Add(e.KeyS, a); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := broker.WaitConnected(ctx, 10); err != nil {
		t.Fatalf("connecting to Tahoe's storage servers: %v", err)
	}
	c, err := client.New(client.Config{Params: lafs.DefaultParams, Convergence: []byte("live tahoe test"),
		LeaseSecret: bytes.Repeat([]byte{7}, 32), Peers: broker})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (l liveTahoe) verify(t *testing.T, k cap.Cap) (good, corrupt int, healthy bool) {
	t.Helper()
	b := l.do(t, http.MethodPost, "/uri/"+url.PathEscape(k.String())+"?t=check&verify=true&output=JSON", nil)
	var r struct {
		Results struct {
			Good    int  `json:"count-shares-good"`
			Corrupt int  `json:"count-corrupt-shares"`
			Healthy bool `json:"healthy"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r.Results.Good, r.Results.Corrupt, r.Results.Healthy
}

// TestTahoeLiveRepair damages a file that Tahoe 1.20 stored on its own
// grid (one corrupt share, one deleted), has lafs verify and repair it
// through Tahoe's storage servers, and asks Tahoe whether it is healthy.
// Tahoe's own repair leaves such a corrupt share in place and says
// repair-successful: false.
func TestTahoeLiveRepair(t *testing.T) {
	l := tahoeGrid(t)
	data := make([]byte, 3300000)
	rand.Read(data)
	k, err := cap.Parse(strings.TrimSpace(string(l.do(t, http.MethodPut, "/uri", data))))
	if err != nil {
		t.Fatal(err)
	}
	v := k.(*cap.CHK).Verifier().(*cap.CHKVerifier)
	// A byte of share 0's first block (file header 12, share header 36),
	// and share 5 gone.
	f := l.shareFile(t, v.StorageIndex, 0)
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	b[48+1000] ^= 0xff
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(l.shareFile(t, v.StorageIndex, 5)); err != nil {
		t.Fatal(err)
	}
	c := l.lafsClient(t)
	ctx := context.Background()
	r, err := c.Check(ctx, k, lafs.CheckOptions{Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.GoodShares != 8 || len(r.Corrupt) != 1 || r.Corrupt[0].Num != 0 {
		t.Fatalf("lafs verify: %+v", r)
	}
	start := time.Now()
	rr, err := c.CheckAndRepair(ctx, k, lafs.CheckOptions{Verify: true, Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("lafs verify+repair took %v, placed %v", time.Since(start), rr.Placed)
	if !rr.Successful || len(rr.Placed) != 2 {
		t.Fatalf("lafs repair: %+v\npost %+v", rr, rr.PostRepair)
	}
	good, corrupt, healthy := l.verify(t, k)
	t.Logf("Tahoe's verify after lafs's repair: %d good, %d corrupt, healthy %v", good, corrupt, healthy)
	if good != 10 || !healthy {
		t.Errorf("Tahoe's verify after lafs's repair: %d good, %d corrupt, healthy %v", good, corrupt, healthy)
	}
	if got := l.do(t, http.MethodGet, "/uri/"+url.PathEscape(k.String()), nil); !bytes.Equal(got, data) {
		t.Errorf("Tahoe reads back other bytes")
	}
}

// TestTahoeLiveMutableRepair does the same to an SDMF file Tahoe made:
// lafs verifies it through Tahoe's servers, republishes it over the bad
// share, and Tahoe finds it healthy and reads it.
func TestTahoeLiveMutableRepair(t *testing.T) {
	l := tahoeGrid(t)
	data := []byte("a mutable file that lafs will repair on a Tahoe grid\n")
	k, err := cap.Parse(strings.TrimSpace(string(l.do(t, http.MethodPut, "/uri?format=SDMF", data))))
	if err != nil {
		t.Fatal(err)
	}
	w := k.(*cap.MutableWrite)
	// A byte of share 3's public key (container header 468, SDMF header 107).
	f := l.shareFile(t, w.StorageIndex(), 3)
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	b[468+107+100] ^= 0xff
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c := l.lafsClient(t)
	ctx := context.Background()
	r, err := c.Check(ctx, k, lafs.CheckOptions{Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Corrupt) != 1 || r.Corrupt[0].Num != 3 || r.Healthy {
		t.Fatalf("lafs verify: %+v", r)
	}
	rr, err := c.CheckAndRepair(ctx, k, lafs.CheckOptions{Verify: true, Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rr.Successful {
		t.Fatalf("lafs repair: %+v\npost %+v", rr, rr.PostRepair)
	}
	good, corrupt, healthy := l.verify(t, k)
	if good != 10 || corrupt != 0 || !healthy {
		t.Errorf("Tahoe's verify after lafs's repair: %d good, %d corrupt, healthy %v", good, corrupt, healthy)
	}
	if got := l.do(t, http.MethodGet, "/uri/"+url.PathEscape(k.String()), nil); !bytes.Equal(got, data) {
		t.Errorf("Tahoe reads back %q", got)
	}
}
