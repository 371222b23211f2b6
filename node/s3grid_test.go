package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs/backend/s3"
	"github.com/lafs/lafs/internal/s3test"
	"github.com/lafs/lafs/node"
)

// s3Grid is a real grid whose three storage nodes keep their shares in one
// S3 bucket (a real versitygw on 127.0.0.1), each under a prefix of its
// own: an introducer, the storage nodes (the first with a web server, for
// its storage page) and a client, 2-of-3 with happiness 3, so that every
// upload needs every storage node.
type s3Grid struct {
	s3      *s3test.Server
	client  *node.Node
	web     string // the client's web API
	storage []*node.Node
	dirs    []string
	pages   []string // the storage nodes' web servers ("" for none)
}

func startS3Grid(t *testing.T) *s3Grid {
	t.Helper()
	g := &s3Grid{s3: s3test.Start(t)}
	ip := freePort(t)
	intro, _ := startLafsNode(t, node.CreateOptions{Kind: node.KindIntroducer,
		Port: fmt.Sprintf("tcp:%d:interface=127.0.0.1", ip), Location: fmt.Sprintf("tcp:127.0.0.1:%d", ip)})
	furl := intro.IntroducerURLs.NURLs[0]
	for i := range 3 {
		p := freePort(t)
		web, page := "none", ""
		if i == 0 {
			wp := freePort(t)
			web, page = fmt.Sprintf("tcp:%d:interface=127.0.0.1", wp), fmt.Sprintf("http://127.0.0.1:%d", wp)
		}
		prefix := fmt.Sprintf("node%d/", i)
		n, dir := startLafsNode(t, node.CreateOptions{Introducers: []string{furl}, Nickname: fmt.Sprintf("s3-storage-%d", i),
			Port: fmt.Sprintf("tcp:%d:interface=127.0.0.1", p), Location: fmt.Sprintf("tcp:127.0.0.1:%d", p),
			WebPort: web, SharesNeeded: 2, SharesHappy: 3, SharesTotal: 3},
			func(t *testing.T, dir string) { useS3(t, dir, g.s3, prefix) })
		if n.Shares == nil || n.Shares.Kind != node.BackendS3 {
			t.Fatalf("storage node %d does not keep its shares in S3: %+v", i, n.Shares)
		}
		g.storage, g.dirs, g.pages = append(g.storage, n), append(g.dirs, dir), append(g.pages, page)
	}
	wp := freePort(t)
	g.client, _ = startLafsNode(t, node.CreateOptions{Kind: node.KindClient, Introducers: []string{furl}, Nickname: "s3-client",
		WebPort: fmt.Sprintf("tcp:%d:interface=127.0.0.1", wp), SharesNeeded: 2, SharesHappy: 3, SharesTotal: 3})
	g.web = fmt.Sprintf("http://127.0.0.1:%d", wp)
	waitUntil(t, "the client to see 3 storage servers", 30*time.Second, func() bool { return connectedServers(g.client) >= 3 })
	return g
}

// useS3 makes the node in dir keep its shares in s's bucket under prefix.
func useS3(t *testing.T, dir string, s *s3test.Server, prefix string) {
	t.Helper()
	_, err := node.EditConfig(dir, func(f *node.CfgFile) error {
		for _, kv := range [][2]string{{"backend", "s3"}, {"s3.endpoint", "http://" + s.Endpoint},
			{"s3.bucket", s.Bucket}, {"s3.prefix", prefix}, {"s3.path_style", "true"}} {
			if err := f.Set("storage", kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := node.WriteS3Credentials(dir, s.AccessKey, s.SecretKey); err != nil {
		t.Fatal(err)
	}
	if _, err := node.LoadOrCreateSealKey(dir); err != nil {
		t.Fatal(err)
	}
}

// restartStorage stops storage node i and starts it again from its
// directory, after prepare (if any) has changed it.
func (g *s3Grid) restartStorage(t *testing.T, i int, prepare func(dir string)) {
	t.Helper()
	if err := g.storage[i].Close(); err != nil {
		t.Fatalf("stopping storage node %d: %v", i, err)
	}
	if prepare != nil {
		prepare(g.dirs[i])
	}
	n, err := node.Start(context.Background(), g.dirs[i], slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("restarting storage node %d: %v", i, err)
	}
	t.Cleanup(func() { n.Close() })
	g.storage[i] = n
	waitUntil(t, "the client to see 3 storage servers again", 30*time.Second, func() bool { return connectedServers(g.client) >= 3 })
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// put stores data as an immutable file through the client's web API.
func (g *s3Grid) put(t *testing.T, data []byte) string {
	t.Helper()
	return strings.TrimSpace(string(httpDo(t, http.MethodPut, g.web+"/uri", data)))
}

// get reads a file through the client's web API.
func (g *s3Grid) get(t *testing.T, cap string) []byte {
	t.Helper()
	return httpDo(t, http.MethodGet, g.web+"/uri/"+cap, nil)
}

// backendJSON returns the "lafs-backend" object of storage node 0's
// storage page.
func (g *s3Grid) backendJSON(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(httpDo(t, http.MethodGet, g.pages[0]+"/storage?t=json", nil), &doc); err != nil {
		t.Fatal(err)
	}
	be, _ := doc["lafs-backend"].(map[string]any)
	if be == nil {
		t.Fatalf("the storage page has no lafs-backend: %v", doc)
	}
	return be
}

// TestS3Grid: a client stores and reads immutable and mutable files on
// storage nodes whose shares live in S3; the storage page shows the
// bucket; a storage node whose lease index is deleted rebuilds it from
// the bucket at its next start and serves on.
func TestS3Grid(t *testing.T) {
	g := startS3Grid(t)
	big := randomBytes(20<<20 + 12345) // several multipart parts per share
	small := randomBytes(3000)
	bigCap, smallCap := g.put(t, big), g.put(t, small)
	if !bytes.Equal(g.get(t, bigCap), big) || !bytes.Equal(g.get(t, smallCap), small) {
		t.Fatal("the files read back differ")
	}
	mut := strings.TrimSpace(string(httpDo(t, http.MethodPut, g.web+"/uri?format=mdmf", []byte("version 1"))))
	httpDo(t, http.MethodPut, g.web+"/uri/"+mut, []byte("version 2, longer than the first"))
	if got := g.get(t, mut); string(got) != "version 2, longer than the first" {
		t.Fatalf("mutable file reads %q", got)
	}

	if v, err := g.storage[1].Storage.Version(context.Background()); err != nil || v.MaximumMutableShareSize != s3.DefaultMaxInPlaceSize-4096 {
		t.Errorf("an S3 node announces a maximum mutable share size of %d (%v), want the backend's in-place limit", v.MaximumMutableShareSize, err)
	}
	be := g.backendJSON(t)
	objects, _ := be["objects"].(map[string]any)
	if be["type"] != "s3" || be["bucket"] != g.s3.Bucket || be["prefix"] != "node0/" || objects == nil {
		t.Fatalf("storage page backend %v", be)
	}
	// Three files, one share each on every node (k=2, N=3, happy 3).
	if objects["shares"] != float64(3) || objects["mutable-shares"] != float64(1) || objects["leases"] != float64(3) {
		t.Errorf("storage page counts %v, want 3 shares (1 mutable) and 3 leases", objects)
	}
	html := string(httpDo(t, http.MethodGet, g.pages[0]+"/storage", nil))
	if !strings.Contains(html, "S3 bucket "+g.s3.Bucket) {
		t.Errorf("the storage page does not name the bucket")
	}
	// No credential reaches the page.
	for _, secret := range []string{g.s3.SecretKey, g.s3.AccessKey} {
		if strings.Contains(html, secret) || strings.Contains(fmt.Sprint(be), secret) {
			t.Errorf("the storage page shows a credential")
		}
	}

	// Lose storage node 0's lease index: it is rebuilt from the bucket.
	g.restartStorage(t, 0, func(dir string) {
		p := filepath.Join(dir, "storage", node.LeaseIndexFileName)
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		os.Remove(p + "-wal")
		os.Remove(p + "-shm")
	})
	be = g.backendJSON(t)
	objects, _ = be["objects"].(map[string]any)
	index, _ := be["lease-index"].(map[string]any)
	if objects["shares"] != float64(3) || objects["leases"] != float64(3) || index["rebuild-reason"] == "" || index["last-rebuild"] == nil {
		t.Errorf("after losing the index: objects %v, index %v", objects, index)
	}
	for _, c := range []struct {
		cap  string
		want []byte
	}{{bigCap, big}, {smallCap, small}, {mut, []byte("version 2, longer than the first")}} {
		if !bytes.Equal(g.get(t, c.cap), c.want) {
			t.Error("a file changed after the lease index was rebuilt")
		}
	}
	// Renewing leases reaches the rebuilt index.
	httpDo(t, http.MethodPost, g.web+"/uri/"+smallCap+"?t=check&add-lease=true", nil)
}

// TestS3GridServerRestarts: the S3 server is killed in the middle of an
// upload and of a mutable write, and restarted. Each operation either
// succeeds, with every byte right, or fails; nothing stored before is
// lost or damaged, and the grid works on once the server is back.
func TestS3GridServerRestarts(t *testing.T) {
	g := startS3Grid(t)
	before := randomBytes(1 << 20)
	beforeCap := g.put(t, before)
	mut := strings.TrimSpace(string(httpDo(t, http.MethodPut, g.web+"/uri?format=mdmf", []byte("mutable before"))))

	type result struct {
		cap string
		err error
	}
	try := func(method, url string, body []byte) result {
		req, _ := http.NewRequest(method, url, bytes.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return result{err: err}
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			return result{err: fmt.Errorf("%d %s", resp.StatusCode, b)}
		}
		return result{cap: strings.TrimSpace(string(b))}
	}

	big := randomBytes(48 << 20)
	done := make(chan result, 1)
	go func() { done <- try(http.MethodPut, g.web+"/uri", big) }()
	time.Sleep(700 * time.Millisecond)
	g.s3.Kill()
	time.Sleep(time.Second)
	if err := g.s3.Restart(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err == nil {
		if !bytes.Equal(g.get(t, r.cap), big) {
			t.Fatal("the upload across the S3 restart succeeded but reads back wrong")
		}
		t.Log("the upload across the S3 server's restart succeeded")
	} else {
		t.Logf("the upload across the S3 server's restart failed cleanly: %.200v", r.err)
	}

	// A mutable write while the server is down.
	g.s3.Kill()
	w := make(chan result, 1)
	go func() { w <- try(http.MethodPut, g.web+"/uri/"+mut, []byte("mutable after")) }()
	time.Sleep(1500 * time.Millisecond)
	if err := g.s3.Restart(); err != nil {
		t.Fatal(err)
	}
	wr := <-w
	got := string(g.get(t, mut))
	switch {
	case wr.err == nil && got != "mutable after":
		t.Fatalf("the mutable write succeeded but the file reads %q", got)
	case wr.err != nil && got != "mutable before" && got != "mutable after":
		t.Fatalf("after a failed mutable write the file reads %q", got)
	}
	t.Logf("mutable write across the restart: err=%v, reads %q", wr.err, got)

	if !bytes.Equal(g.get(t, beforeCap), before) {
		t.Fatal("a file stored before the restarts reads back wrong")
	}
	after := randomBytes(2<<20 + 1)
	if !bytes.Equal(g.get(t, g.put(t, after)), after) {
		t.Fatal("a file stored after the restarts reads back wrong")
	}
	httpDo(t, http.MethodPut, g.web+"/uri/"+mut, []byte("mutable final"))
	if got := string(g.get(t, mut)); got != "mutable final" {
		t.Fatalf("the mutable file reads %q after the restarts", got)
	}
}

// TestTahoeLiveS3StorageNode: a live Tahoe 1.20 client stores and reads
// immutable and mutable files on a lafs storage node whose shares live in
// S3, renews their leases, and verifies them.
func TestTahoeLiveS3StorageNode(t *testing.T) {
	cli := os.Getenv("TAHOE_CLI")
	if cli == "" {
		t.Skip("skipped: TAHOE_CLI is not set: no Tahoe 1.20 to run (see ../shared/tahoe-ref)")
	}
	srv := s3test.Start(t)
	ip := freePort(t)
	intro, _ := startLafsNode(t, node.CreateOptions{Kind: node.KindIntroducer,
		Port: fmt.Sprintf("tcp:%d:interface=127.0.0.1", ip), Location: fmt.Sprintf("tcp:127.0.0.1:%d", ip)})
	b, err := os.ReadFile(filepath.Join(intro.Basedir, "private", "introducer.furl"))
	if err != nil {
		t.Fatal(err)
	}
	furl := strings.TrimSpace(string(b))
	lp := freePort(t)
	sn, _ := startLafsNode(t, node.CreateOptions{Introducers: []string{furl}, Nickname: "lafs-s3", WebPort: "none",
		Port: fmt.Sprintf("tcp:%d:interface=127.0.0.1", lp), Location: fmt.Sprintf("tcp:127.0.0.1:%d", lp)},
		func(t *testing.T, dir string) { useS3(t, dir, srv, "tahoe-live/") })
	wp := freePort(t)
	tahoeNode(t, cli, "create-client", "--introducer="+furl, fmt.Sprintf("--webport=tcp:%d:interface=127.0.0.1", wp),
		"--shares-needed=1", "--shares-happy=1", "--shares-total=2")
	tahoeWeb := fmt.Sprintf("http://127.0.0.1:%d", wp)
	waitTahoeConnected(t, tahoeWeb, "lafs-s3")
	data := randomBytes(3<<20 + 17)
	capI := strings.TrimSpace(string(httpDo(t, http.MethodPut, tahoeWeb+"/uri", data)))
	if got := httpDo(t, http.MethodGet, tahoeWeb+"/uri/"+capI, nil); !bytes.Equal(got, data) {
		t.Fatal("Tahoe read back other bytes")
	}
	capM := strings.TrimSpace(string(httpDo(t, http.MethodPut, tahoeWeb+"/uri?format=sdmf", []byte("tahoe mutable v1"))))
	httpDo(t, http.MethodPut, tahoeWeb+"/uri/"+capM, []byte("tahoe mutable v2, longer"))
	if got := string(httpDo(t, http.MethodGet, tahoeWeb+"/uri/"+capM, nil)); got != "tahoe mutable v2, longer" {
		t.Fatalf("Tahoe reads its mutable file as %q", got)
	}
	for _, c := range []string{capI, capM} {
		out := string(httpDo(t, http.MethodPost, tahoeWeb+"/uri/"+c+"?t=check&verify=true&add-lease=true&output=JSON", nil))
		if !strings.Contains(out, `"healthy": true`) {
			t.Errorf("Tahoe's verify of a file on the S3 node: %s", out)
		}
	}
	st, err := sn.Shares.Index.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Two shares of each file, each with its lease (Tahoe's add-lease
	// renews the one the upload gave: the same secrets).
	if st.Shares != 4 || st.MutableShares != 2 || st.Leases < 4 {
		t.Errorf("the S3 node's lease index: %+v", st)
	}
}
