package node_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Tahoe's own HTML forms keep working from a browser: the welcome page's
// upload form posts with Sec-Fetch-Site: same-origin (and, under
// Referrer-Policy: no-referrer, Origin: null), which the cross-site guard
// lets through, while a cross-site POST is refused.
func TestWebUITahoeForms(t *testing.T) {
	g := startUIGrid(t)
	file := filepath.Join(t.TempDir(), "form.txt")
	if err := os.WriteFile(file, []byte("uploaded through Tahoe's welcome form"), 0o644); err != nil {
		t.Fatal(err)
	}
	g.do(t, "opening the welcome page", chromedp.Navigate(g.base+"/"))
	g.waitSel(t, `form[enctype="multipart/form-data"] input[name="file"]`)
	g.do(t, "choosing the file", chromedp.SetUploadFiles(chromedp.CSS(`form[enctype="multipart/form-data"] input[name="file"]`), []string{file}))
	g.do(t, "submitting the form", chromedp.Click(chromedp.CSS(`form[enctype="multipart/form-data"] input[type="submit"]`)))
	// The form navigates; poll across the page change.
	var body string
	for deadline := time.Now().Add(20 * time.Second); ; {
		ctx, cancel := context.WithTimeout(g.ctx, 2*time.Second)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname === "/uri" && document.body ? document.body.innerText : ""`))
		cancel()
		if err == nil && v != "" {
			body = v
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer to the welcome page's upload form (last error %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if strings.Contains(body, "refused") || !strings.Contains(body, "URI:") {
		t.Fatalf("the welcome page's upload form got: %.300s", body)
	}

	// A POST as a browser sends it from another site's page is refused
	// before any work is done.
	if code := postWithHeaders(t, g.base+"/uri?t=mkdir", "Origin", "null", "Sec-Fetch-Site", "cross-site"); code != 403 {
		t.Errorf("a cross-site POST got %d", code)
	}
}

func postWithHeaders(t *testing.T, url string, kv ...string) int {
	t.Helper()
	req, err := http.NewRequest("POST", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
