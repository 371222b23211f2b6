package webapi

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/mutable"
)

// rawGet fetches path and reads the whole body, returning the read error
// instead of failing, so that a cut connection can be seen.
func (a *testAPI) rawGet(path string, headers ...string) (code int, body []byte, readErr error) {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.srv.URL+path, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, readErr = io.ReadAll(resp.Body)
	return resp.StatusCode, body, readErr
}

func storageIndexOf(t *testing.T, s string) lafs.StorageIndex {
	t.Helper()
	c, err := cap.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	si, ok := cap.StorageIndex(c)
	if !ok {
		t.Fatalf("%s has no storage index", s)
	}
	return si
}

// A CHK download whose first segment cannot be recovered (8 of 10 shares
// damaged in its blocks) is answered 410 with the reason, before any
// header is sent; one whose last segment fails is cut (the client sees an
// error, never a clean end), and a Range request for the rest then says
// which segment failed and why.
func TestDownloadUnrecoverableSegments(t *testing.T) {
	a := newTestAPI(t, nil)
	// Three segments: 1 MiB rounded up to a multiple of k is 1048578.
	const segSize, blockSize = 1<<20 + 2, (1<<20 + 2) / 3
	data := make([]byte, 2*segSize+1000)
	rand.Read(data)
	k := a.put(string(data))
	si := storageIndexOf(t, k)
	p := "/uri/" + url.PathEscape(k)
	// Share data starts with a 0x24-byte header; block 0 follows.
	const block0 = 0x24 + 1000
	for sh := lafs.ShareNum(0); sh < 8; sh++ {
		if a.g.FlipShare(t, si, sh, false, block0) != 1 {
			t.Fatalf("share %d not found", sh)
		}
	}
	code, body, err := a.rawGet(p)
	if code != http.StatusGone || err != nil || !strings.Contains(string(body), "NotEnoughSharesError") ||
		!strings.Contains(string(body), "segment 0 of 3: not enough good shares: 2 of 3") {
		t.Errorf("first segment unrecoverable: %d %v %q", code, err, body)
	}
	// The last two segments are intact.
	code, body, err = a.rawGet(p, "Range", fmt.Sprintf("bytes=%d-", segSize))
	if code != http.StatusPartialContent || err != nil || string(body) != string(data[segSize:]) {
		t.Errorf("intact range: %d %v, %d bytes %q", code, err, len(body), trim(body))
	}

	// Another file (what was read of the first is remembered): its last
	// segment damaged.
	rand.Read(data)
	k = a.put(string(data))
	si = storageIndexOf(t, k)
	p = "/uri/" + url.PathEscape(k)
	for sh := lafs.ShareNum(0); sh < 8; sh++ {
		a.g.FlipShare(t, si, sh, false, 0x24+2*blockSize+10)
	}
	code, body, err = a.rawGet(p)
	if code != http.StatusOK || err == nil || len(body) >= len(data) {
		t.Errorf("last segment unrecoverable: %d, read error %v after %d of %d bytes: want a cut connection", code, err, len(body), len(data))
	}
	if string(body) != string(data[:len(body)]) {
		t.Errorf("the bytes sent before the cut are wrong")
	}
	code, body, err = a.rawGet(p, "Range", fmt.Sprintf("bytes=%d-", 2*segSize+10))
	if code != http.StatusGone || err != nil || !strings.Contains(string(body), "segment 2 of 3: not enough good shares: 2 of 3") {
		t.Errorf("range over the bad segment: %d %v %q", code, err, body)
	}
}

// An SDMF or MDMF file whose shares are all damaged gets a 410, not a 200
// with no body.
func TestDownloadUnrecoverableMutable(t *testing.T) {
	for _, format := range []string{"SDMF", "MDMF"} {
		t.Run(format, func(t *testing.T) {
			a := newTestAPI(t, nil)
			data := strings.Repeat("mutable contents ", 20000)
			r := a.do(http.MethodPut, "/uri?format="+format, strings.NewReader(data))
			if r.code != 200 {
				t.Fatalf("PUT: %d %s", r.code, r.body)
			}
			si := storageIndexOf(t, r.body)
			p := "/uri/" + url.PathEscape(r.body)
			ctx := context.Background()
			for _, b := range a.g.Backends {
				shares, _ := b.List(ctx, si)
				for _, sh := range shares {
					head := make([]byte, mutable.HeaderSize)
					if _, err := b.ReadAt(ctx, backend.Key{SI: si, Share: sh}, head, 468); err != nil && !errors.Is(err, io.EOF) {
						t.Fatal(err)
					}
					h, err := mutable.ParseHeader(head)
					if err != nil {
						t.Fatal(err)
					}
					a.g.FlipShare(t, si, sh, true, int64(h.Offsets.ShareData)+5)
				}
			}
			code, body, err := a.rawGet(p)
			if code != http.StatusGone || err != nil || !strings.Contains(string(body), "UnrecoverableFileError") {
				t.Errorf("damaged %s file: %d %v %q", format, code, err, trim(body))
			}
		})
	}
}
