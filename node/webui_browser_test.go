package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/lafs/lafs/node"
)

// chromiumPath is Debian's Chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// uiGrid is a small real grid (an introducer, three storage nodes and a
// client with a web server) and a headless Chromium showing the client's
// web UI.
type uiGrid struct {
	base        string // the client's web server, http://127.0.0.1:PORT
	storageBase string // storage-0's web server, for its storage page
	client      *node.Node
	storage     []*node.Node

	ctx   context.Context // the browser tab
	shots string          // where screenshots go

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// startUIGrid starts the grid and the browser, and waits until the client
// sees the three servers.
func startUIGrid(t *testing.T) *uiGrid {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("skipped: no Chromium at %s (apt-get install chromium; .ci/run does)", chromiumPath)
	}
	g := &uiGrid{}
	ip := freePort(t)
	intro, _ := startLafsNode(t, node.CreateOptions{Kind: node.KindIntroducer,
		Port: fmt.Sprintf("tcp:%d:interface=127.0.0.1", ip), Location: fmt.Sprintf("tcp:127.0.0.1:%d", ip)})
	furl := intro.IntroducerURLs.NURLs[0]
	for i := range 3 {
		p := freePort(t)
		web := "none"
		if i == 0 { // one storage node shows its storage page
			sp := freePort(t)
			web = fmt.Sprintf("tcp:%d:interface=127.0.0.1", sp)
			g.storageBase = fmt.Sprintf("http://127.0.0.1:%d", sp)
		}
		s, _ := startLafsNode(t, node.CreateOptions{Introducers: []string{furl}, Nickname: fmt.Sprintf("storage-%d", i),
			Port: fmt.Sprintf("tcp:%d:interface=127.0.0.1", p), Location: fmt.Sprintf("tcp:127.0.0.1:%d", p),
			WebPort: web, SharesNeeded: 1, SharesHappy: 2, SharesTotal: 3})
		g.storage = append(g.storage, s)
	}
	wp := freePort(t)
	g.client, _ = startLafsNode(t, node.CreateOptions{Kind: node.KindClient, Introducers: []string{furl}, Nickname: "ui-client",
		WebPort: fmt.Sprintf("tcp:%d:interface=127.0.0.1", wp), SharesNeeded: 1, SharesHappy: 2, SharesTotal: 3})
	g.base = fmt.Sprintf("http://127.0.0.1:%d", wp)

	g.shots = os.Getenv("LAFS_SCREENSHOTS")
	if g.shots == "" {
		g.shots = filepath.Join(os.TempDir(), "lafs-ui-screenshots")
	}
	if err := os.MkdirAll(g.shots, 0o755); err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-sync", true),
		// Nothing but the node: every other name fails to resolve, so the
		// browser cannot reach the internet even if it tried.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(acancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no timeout
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	g.ctx = ctx
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			g.mu.Lock()
			g.console = append(g.console, m)
			g.mu.Unlock()
		}
	}()

	waitUntil(t, "the client to see 3 storage servers", 30*time.Second, func() bool { return connectedServers(g.client) >= 3 })
	return g
}

// consoleErrors are the error-level console messages, exceptions and CSP
// violations the browser reported so far.
func (g *uiGrid) consoleErrors() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var bad []string
	for _, m := range g.console {
		if m.Type == chromedp.ConsoleError || m.IsException() ||
			strings.Contains(m.Text, "Content Security Policy") || strings.Contains(m.Text, "Content-Security-Policy") {
			bad = append(bad, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
		}
	}
	return bad
}

// do runs actions in the tab, failing the test after 20 s.
func (g *uiGrid) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(g.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v\npage: %s", what, err, g.mainText(t))
	}
}

// eval evaluates a JavaScript expression in the page and decodes its value.
func eval[T any](t *testing.T, g *uiGrid, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(g.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitJS waits until the JavaScript expression is truthy.
func (g *uiGrid) waitJS(t *testing.T, what, expr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(g.ctx, 25*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatalf("waiting for %s: %v\npage: %s", what, err, g.mainText(t))
	}
}

// waitSel waits until a CSS selector matches an element.
func (g *uiGrid) waitSel(t *testing.T, sel string) {
	t.Helper()
	g.waitJS(t, sel, "document.querySelector("+jsString(sel)+") !== null")
}

// waitGone waits until a CSS selector matches nothing.
func (g *uiGrid) waitGone(t *testing.T, sel string) {
	t.Helper()
	g.waitJS(t, "no "+sel, "document.querySelector("+jsString(sel)+") === null")
}

// has reports whether a CSS selector matches an element now.
func (g *uiGrid) has(t *testing.T, sel string) bool {
	t.Helper()
	return eval[bool](t, g, "document.querySelector("+jsString(sel)+") !== null")
}

// count is the number of elements a CSS selector matches now.
func (g *uiGrid) count(t *testing.T, sel string) int {
	t.Helper()
	return eval[int](t, g, "document.querySelectorAll("+jsString(sel)+").length")
}

// text is the rendered text (innerText) of the first element a CSS
// selector matches.
func (g *uiGrid) text(t *testing.T, sel string) string {
	t.Helper()
	return eval[string](t, g, "(document.querySelector("+jsString(sel)+") || {}).innerText || ''")
}

// mainText is the start of #main's text, for failure messages.
func (g *uiGrid) mainText(t *testing.T) string {
	ctx, cancel := context.WithTimeout(g.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`(location.hash + " | " + ((document.getElementById("main") || {}).innerText || "")).replace(/URI(%3A|:)[^\s\/?]*/g, "<cap>")`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	if len(s) > 800 {
		s = s[:800] + "…"
	}
	return s
}

// open loads the UI at a hash: a full page load, even when only the hash
// differs from the current page's.
func (g *uiGrid) open(t *testing.T, hash string) {
	t.Helper()
	g.do(t, "opening /ui/"+hash, chromedp.Navigate("about:blank"), chromedp.Navigate(g.base+"/ui/"+hash))
}

// goHash moves the loaded UI to another hash, as a link would.
func (g *uiGrid) goHash(t *testing.T, hash string) {
	t.Helper()
	eval[chromedp.Void](t, g, "void (location.hash = "+jsString(hash)+")")
}

// uiHash is LAFS.hash(parts...) computed by the page itself.
func (g *uiGrid) uiHash(t *testing.T, parts ...string) string {
	t.Helper()
	b, _ := json.Marshal(parts)
	return eval[string](t, g, "LAFS.hash(..."+string(b)+")")
}

// junkRE finds what a page should never show: JavaScript's placeholders
// for missing values, and numbers printed unrounded.
var junkRE = regexp.MustCompile(`\b(null|undefined|NaN)+\b|\[object \w+\]|\d\.\d{5,}`)

// noJunk checks #main's text for junkRE.
func (g *uiGrid) noJunk(t *testing.T, page string) {
	t.Helper()
	txt := g.text(t, "#main")
	for _, line := range strings.Split(txt, "\n") {
		if junkRE.MatchString(line) {
			t.Errorf("the %s page shows %q in %q", page, junkRE.FindString(line), line)
		}
	}
}

// a11y checks that every control in #main has an accessible name and
// that the page's text has AA contrast.
func (g *uiGrid) a11y(t *testing.T, page string) {
	t.Helper()
	if bad := eval[[]string](t, g, unnamedControlsJS); len(bad) > 0 {
		t.Errorf("controls on the %s page without an accessible name:\n%s", page, strings.Join(bad, "\n"))
	}
	if bad := eval[[]string](t, g, lowContrastJS); len(bad) > 0 {
		t.Errorf("text on the %s page below WCAG AA contrast (4.5):\n%s", page, strings.Join(bad, "\n"))
	}
}

// screenshot writes a full-page PNG of the tab.
func (g *uiGrid) screenshot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(g.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(g.shots, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot: %s", p)
}

// dirJSON is GET /uri/CAP?t=json of a directory.
type dirJSON struct {
	RWURI    string `json:"rw_uri"`
	ROURI    string `json:"ro_uri"`
	Children map[string][]json.RawMessage
}

func (g *uiGrid) dirJSON(t *testing.T, dircap string) dirJSON {
	t.Helper()
	b := httpDo(t, "GET", g.base+"/uri/"+dircap+"?t=json", nil)
	var v []json.RawMessage
	var d dirJSON
	if err := json.Unmarshal(b, &v); err != nil || len(v) != 2 {
		t.Fatalf("directory JSON (%d bytes): %v", len(b), err)
	}
	if err := json.Unmarshal(v[1], &d); err != nil {
		t.Fatalf("directory JSON: %v", err)
	}
	return d
}

// childCap is a child's read cap (or write cap) from a directory listing.
func (d dirJSON) childCap(t *testing.T, name string) string {
	t.Helper()
	c, ok := d.Children[name]
	if !ok || len(c) != 2 {
		t.Fatalf("no child %q in the directory", name)
	}
	var info struct {
		RWURI string `json:"rw_uri"`
		ROURI string `json:"ro_uri"`
	}
	if err := json.Unmarshal(c[1], &info); err != nil {
		t.Fatal(err)
	}
	if info.RWURI != "" {
		return info.RWURI
	}
	return info.ROURI
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// row is the CSS selector of a listing row.
func row(name string) string {
	return fmt.Sprintf(`#listing tr[data-name=%s]`, jsString(name))
}

// TestWebUIBrowser drives the web UI in a real headless Chromium against a
// real grid of in-process nodes on 127.0.0.1: the grid page, the file
// browser (upload, download, mkdir, rename, delete), the file page's check,
// read-only directories, the cross-site refusal and CSP, keyboard use and
// accessible names, and screenshots of the main pages.
func TestWebUIBrowser(t *testing.T) {
	g := startUIGrid(t)
	t.Cleanup(func() {
		if bad := g.consoleErrors(); len(bad) > 0 {
			t.Errorf("the browser console reported errors:\n%s", strings.Join(bad, "\n"))
		}
	})
	var rootCap string // the directory made through the UI
	var data []byte    // big.bin's content
	browsed := false   // the Browse step made rootCap and its files
	needBrowse := func(t *testing.T) {
		if !browsed {
			t.Skip("skipped: the Browse step failed")
		}
	}

	t.Run("Grid", func(t *testing.T) {
		g.open(t, "#/grid")
		g.waitJS(t, "3 server rows", `document.querySelectorAll("table#grid-servers tr[data-server]").length === 3`)
		for _, s := range g.client.Broker.States() {
			sel := fmt.Sprintf(`table#grid-servers tr[data-server=%s]`, jsString(s.ID))
			if !g.has(t, sel) {
				t.Errorf("no row %s", sel)
				continue
			}
			txt := g.text(t, sel)
			if !regexp.MustCompile(`(?i)\bconnected\b`).MatchString(txt) || regexp.MustCompile(`(?i)not connected|disconnected`).MatchString(txt) {
				t.Errorf("row %s does not say connected: %q", sel, txt)
			}
		}
		g.waitSel(t, "#encoding")
		enc := g.text(t, "#encoding")
		nums := map[string]bool{}
		for _, n := range regexp.MustCompile(`\b\d+\b`).FindAllString(enc, -1) {
			nums[n] = true
		}
		if !nums["1"] || !nums["2"] || !nums["3"] {
			t.Errorf("#encoding does not show k=1, happy=2, N=3: %q", enc)
		}
		if g.has(t, "#happiness-warning") {
			t.Errorf("#happiness-warning shown with 3 of 3 servers connected")
		}
		if !g.has(t, "table#grid-introducers") {
			t.Errorf("no table#grid-introducers")
		}
		// It refreshes itself (every 3 s) without reloading the page.
		eval[chromedp.Void](t, g, `void (window.lafsTestMark = performance.getEntriesByType("resource").filter((e) => e.name.includes("/ui/grid.json")).length)`)
		g.waitJS(t, "the grid page to fetch grid.json again", `window.lafsTestMark !== undefined && `+
			`performance.getEntriesByType("resource").filter((e) => e.name.includes("/ui/grid.json")).length > window.lafsTestMark`)
		g.noJunk(t, "grid")
		g.a11y(t, "grid")
		g.screenshot(t, "grid")
	})

	t.Run("Browse", func(t *testing.T) {
		g.open(t, "#/browse")
		g.waitSel(t, "button#new-root-dir")
		g.do(t, "clicking #new-root-dir", chromedp.Click(chromedp.CSS("button#new-root-dir")))
		g.waitJS(t, "the new directory's page", `location.hash.startsWith("#/browse/") && document.querySelector("table#listing, #upload-input") !== null`)
		h := eval[string](t, g, "decodeURIComponent(location.hash.slice('#/browse/'.length))")
		if !strings.HasPrefix(h, "URI:DIR2") {
			t.Fatalf("new directory's hash names no dircap (%d chars)", len(h))
		}
		rootCap = h
		g.waitSel(t, `nav[aria-label="Breadcrumbs"]`)

		// Upload two files, one large enough that its progress shows.
		dir := t.TempDir()
		small := filepath.Join(dir, "hello.txt")
		if err := os.WriteFile(small, []byte("hello, grid\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		data = make([]byte, 3<<20)
		rand.Read(data)
		big := filepath.Join(dir, "big.bin")
		if err := os.WriteFile(big, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if got := eval[string](t, g, `(document.querySelector('label[for="upload-input"]') || {}).textContent || ""`); !strings.Contains(got, "Upload") {
			t.Errorf(`label[for="upload-input"] says %q`, got)
		}
		g.do(t, "choosing files in #upload-input", chromedp.SetUploadFiles(chromedp.CSS("input#upload-input"), []string{small, big}))
		g.waitSel(t, `ul#uploads li[data-upload="big.bin"]`)
		if !g.has(t, `ul#uploads li[data-upload="big.bin"] progress`) {
			t.Errorf(`li[data-upload="big.bin"] has no <progress>`)
		}
		g.waitSel(t, `ul#uploads li[data-upload="hello.txt"].done`)
		g.waitSel(t, `ul#uploads li[data-upload="big.bin"].done`)
		g.waitSel(t, row("hello.txt"))
		g.waitSel(t, row("big.bin"))

		// Download through the link's href, with Go.
		href := eval[string](t, g, `document.querySelector(`+jsString(row("big.bin")+` a[data-action="download"]`)+`).href`)
		if !strings.HasPrefix(href, g.base+"/") {
			t.Errorf("download href is not on the node: %.60s", href)
		} else if got := httpDo(t, "GET", href, nil); !bytes.Equal(got, data) {
			t.Errorf("the download link gave %d bytes, not the %d uploaded", len(got), len(data))
		}

		// mkdir, into it and back by the breadcrumbs.
		if !eval[bool](t, g, `[...document.querySelectorAll("form#mkdir-form button")].some((b) => /new folder/i.test(b.textContent))`) {
			t.Errorf(`form#mkdir-form has no "New folder" button`)
		}
		g.do(t, "mkdir", chromedp.SendKeys(chromedp.CSS("form#mkdir-form input#mkdir-name"), "sub dir"), chromedp.KeyEvent(kb.Enter))
		g.waitSel(t, row("sub dir"))
		g.do(t, "opening sub dir", chromedp.Click(chromedp.CSS(row("sub dir")+" a.open")))
		subHash := g.uiHash(t, "browse", rootCap, "sub dir")
		g.waitJS(t, "the sub dir page", "location.hash === "+jsString(subHash)+
			` && document.querySelector("table#listing") !== null && !document.querySelector(`+jsString(row("big.bin"))+`)`)
		if !strings.Contains(g.text(t, `nav[aria-label="Breadcrumbs"]`), "sub dir") {
			t.Errorf("the breadcrumbs do not name sub dir: %q", g.text(t, `nav[aria-label="Breadcrumbs"]`))
		}
		rootHash := g.uiHash(t, "browse", rootCap)
		crumb := fmt.Sprintf(`nav[aria-label="Breadcrumbs"] a[href=%s]`, jsString(rootHash))
		if !g.has(t, crumb) {
			t.Fatalf("no breadcrumb link to the root directory (%s)", `a[href="#/browse/<root>"]`)
		}
		g.do(t, "clicking the root breadcrumb", chromedp.Click(chromedp.CSS(crumb)))
		g.waitJS(t, "back at the root", "location.hash === "+jsString(rootHash))
		g.waitSel(t, row("big.bin"))

		// Rename.
		g.do(t, "clicking rename", chromedp.Click(chromedp.CSS(row("hello.txt")+` button[data-action="rename"]`)))
		g.waitSel(t, "input#rename-input")
		if v := eval[string](t, g, `document.getElementById("rename-input").value`); v != "hello.txt" {
			t.Errorf("#rename-input prefilled with %q", v)
		}
		if !eval[bool](t, g, `document.activeElement === document.getElementById("rename-input")`) {
			t.Errorf("#rename-input is not focused")
		}
		g.do(t, "renaming", chromedp.SetValue(chromedp.CSS("input#rename-input"), "greeting.txt"),
			chromedp.Focus(chromedp.CSS("input#rename-input")), chromedp.KeyEvent(kb.Enter))
		g.waitSel(t, row("greeting.txt"))
		g.waitGone(t, row("hello.txt"))

		// Delete, after the confirmation.
		g.do(t, "clicking delete", chromedp.Click(chromedp.CSS(row("greeting.txt")+` button[data-action="delete"]`)))
		g.waitJS(t, "the confirm dialog", `document.getElementById("confirm").open`)
		g.do(t, "confirming", chromedp.Click(chromedp.CSS("#confirm-ok")))
		g.waitGone(t, row("greeting.txt"))

		d := g.dirJSON(t, rootCap)
		var names []string
		for n := range d.Children {
			names = append(names, n)
		}
		if len(d.Children) != 2 || d.Children["big.bin"] == nil || d.Children["sub dir"] == nil {
			t.Errorf("the server's directory has %q, want big.bin and sub dir", names)
		}
		if n := g.count(t, "#listing tr[data-name]"); n != 2 {
			t.Errorf("the listing has %d rows, want 2", n)
		}
		browsed = true // the later steps use rootCap and its files

		// Deep check of the three objects.
		g.do(t, "clicking deep check", chromedp.Click(chromedp.CSS("button#deep-check-btn")))
		g.waitJS(t, "a deep-check result", `(document.getElementById("deep-check-result") || {}).innerText`)
		if g.has(t, `#deep-check-result .error, #deep-check-result [role="alert"], #deep-check-progress .error`) {
			t.Errorf("deep check failed: %q", g.text(t, "#deep-check-progress")+" "+g.text(t, "#deep-check-result"))
		}
		t.Logf("deep check: %q / %q", g.text(t, "#deep-check-progress"), g.text(t, "#deep-check-result"))
		if eval[bool](t, g, `(() => { const b = document.getElementById("deep-check-cancel"); return b !== null && b.offsetParent !== null; })()`) {
			t.Errorf("the deep check's cancel button still shows after the result")
		}
		// The node forgets the handle once the result is shown.
		if op := eval[string](t, g, `(performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname).find((p) => p.startsWith("/operations/")) || "")`); op == "" {
			t.Logf("no /operations/ request among the page's resource timings")
		} else {
			waitUntil(t, "the deep check's handle to be released", 10*time.Second, func() bool {
				resp, err := http.Get(g.base + op + "?t=status&output=JSON")
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusNotFound
			})
		}
		g.noJunk(t, "file browser")
		g.screenshot(t, "browse")
	})

	t.Run("File", func(t *testing.T) {
		needBrowse(t)
		g.waitSel(t, row("big.bin")+" a.open")
		g.do(t, "opening big.bin", chromedp.Click(chromedp.CSS(row("big.bin")+" a.open")))
		g.waitJS(t, "the file page", `location.hash.startsWith("#/file/") && document.querySelector("button#check-btn") !== null`)
		fileHash := eval[string](t, g, "location.hash")
		cap := g.dirJSON(t, rootCap).childCap(t, "big.bin")
		if !strings.HasPrefix(fileHash, g.uiHash(t, "file", cap)) {
			t.Errorf("big.bin's link leads to another file page")
		}
		g.waitSel(t, "dl#file-facts")
		for _, sel := range []string{`[data-action="copy-read"]`, `[data-action="copy-verify"]`, `a[data-action="download"]`, "button#verify-btn"} {
			if !g.has(t, sel) {
				t.Errorf("the file page has no %s", sel)
			}
		}
		g.do(t, "clicking check", chromedp.Click(chromedp.CSS("button#check-btn")))
		g.waitJS(t, "a check result", `/healthy/i.test((document.getElementById("check-result") || {}).textContent || "")`)
		if res := g.text(t, "#check-result"); regexp.MustCompile(`(?i)unhealthy|not healthy`).MatchString(res) {
			t.Errorf("#check-result: %q", res)
		}
		g.waitJS(t, "the share map", `document.querySelectorAll("table#sharemap tbody tr").length >= 2`)
		rows := g.count(t, "table#sharemap tbody tr")
		t.Logf("share map rows: %d", rows)
		if rows != 3 {
			t.Errorf("table#sharemap has %d server rows, want 3 (N=3 on 3 servers)", rows)
		}
		g.noJunk(t, "file")
		g.a11y(t, "file")
		g.screenshot(t, "file")
	})

	t.Run("ReadOnly", func(t *testing.T) {
		needBrowse(t)
		ro := g.dirJSON(t, rootCap).ROURI
		if !strings.HasPrefix(ro, "URI:DIR2-RO:") {
			t.Fatalf("ro_uri is not a read-only dircap")
		}
		g.goHash(t, g.uiHash(t, "browse", ro))
		g.waitSel(t, row("big.bin"))
		for _, sel := range []string{"#upload-input", "#mkdir-form", `button[data-action="delete"]`, `button[data-action="rename"]`} {
			if g.has(t, sel) {
				t.Errorf("read-only directory shows %s", sel)
			}
		}
		if !g.has(t, "span#read-only-badge") {
			t.Errorf("read-only directory has no span#read-only-badge")
		}
	})

	t.Run("Edit", func(t *testing.T) {
		needBrowse(t)
		httpDo(t, "PUT", g.base+"/uri/"+rootCap+"/notes.txt?format=MDMF", []byte("first version\n"))
		cap := g.dirJSON(t, rootCap).childCap(t, "notes.txt")
		g.goHash(t, g.uiHash(t, "file", cap))
		g.waitSel(t, "button#edit-btn")
		if !g.has(t, `button[data-action="copy-write"]`) {
			t.Errorf(`a mutable file's page opened by its write cap has no button[data-action="copy-write"]`)
		}
		g.do(t, "clicking edit", chromedp.Click(chromedp.CSS("button#edit-btn")))
		g.waitSel(t, "textarea#edit-text")
		g.waitJS(t, "the text in #edit-text", `document.getElementById("edit-text").value === "first version\n"`)
		g.do(t, "editing", chromedp.SetValue(chromedp.CSS("textarea#edit-text"), "second version\n"),
			chromedp.Click(chromedp.CSS("button#save-btn")))
		g.waitJS(t, `the toast "Saved"`, `/Saved/.test(document.getElementById("toasts").textContent)`)
		if got := string(httpDo(t, "GET", g.base+"/uri/"+cap, nil)); got != "second version\n" {
			t.Errorf("after saving, the file holds %q", got)
		}
	})

	t.Run("Safety", func(t *testing.T) {
		for _, c := range []struct {
			header, value string
			want          int
		}{
			{"Origin", "http://evil.example", http.StatusForbidden},
			{"Sec-Fetch-Site", "cross-site", http.StatusForbidden},
			{"", "", http.StatusOK},
			{"Origin", g.base, http.StatusOK},
			{"Sec-Fetch-Site", "same-origin", http.StatusOK},
		} {
			req, err := http.NewRequest("POST", g.base+"/uri?t=mkdir", nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.header != "" {
				req.Header.Set(c.header, c.value)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("POST /uri?t=mkdir with %s: %q: status %d, want %d", c.header, c.value, resp.StatusCode, c.want)
			}
		}
		resp, err := http.Get(g.base + "/ui/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET /ui/: Content-Security-Policy %q lacks %q", csp, want)
			}
		}
	})

	t.Run("Keyboard", func(t *testing.T) {
		needBrowse(t)
		g.open(t, g.uiHash(t, "browse", rootCap))
		first := `#listing tbody tr[data-name]`
		g.waitSel(t, first+" a.open")
		g.do(t, "Tab", chromedp.KeyEvent(kb.Tab))
		if id := eval[string](t, g, "document.activeElement.id"); id != "skip-link" {
			t.Fatalf("the first Tab after loading the page focuses %s, not the skip link",
				eval[string](t, g, "document.activeElement.outerHTML.slice(0, 120)"))
		}
		before := eval[string](t, g, "location.hash")
		target := `document.activeElement === document.querySelector(` + jsString(first+" a.open") + `)`
		tabs := 0
		sawUpload := false
		for ; tabs < 80 && !eval[bool](t, g, target); tabs++ {
			g.do(t, "Tab", chromedp.KeyEvent(kb.Tab))
			// The file input is hidden: its focus shows on its label.
			if eval[bool](t, g, `document.activeElement.id === "upload-input"`) {
				sawUpload = true
				if s := eval[string](t, g, `getComputedStyle(document.querySelector('label[for="upload-input"]')).outlineStyle`); s == "none" {
					t.Errorf(`keyboard focus on #upload-input shows no outline on label[for="upload-input"]`)
				}
			}
		}
		if !eval[bool](t, g, target) {
			t.Fatalf("80 Tabs from the skip link never reached the first row's a.open")
		}
		if !sawUpload {
			t.Errorf("Tab from the skip link to the listing never reached #upload-input")
		}
		t.Logf("%d Tabs from the skip link to the first row's link", tabs)
		g.do(t, "Enter", chromedp.KeyEvent(kb.Enter))
		g.waitJS(t, "the hash to change", "location.hash !== "+jsString(before))

		// Escape leaves a rename form and the confirm dialog.
		g.open(t, g.uiHash(t, "browse", rootCap))
		g.waitSel(t, row("big.bin")+` button[data-action="rename"]`)
		g.do(t, "rename by keyboard", chromedp.Focus(chromedp.CSS(row("big.bin")+` button[data-action="rename"]`)), chromedp.KeyEvent(kb.Enter))
		g.waitSel(t, "input#rename-input")
		g.do(t, "Escape", chromedp.KeyEvent(kb.Escape))
		g.waitGone(t, "input#rename-input")
		g.waitSel(t, row("big.bin"))
		g.do(t, "delete by keyboard", chromedp.Focus(chromedp.CSS(row("big.bin")+` button[data-action="delete"]`)), chromedp.KeyEvent(kb.Enter))
		g.waitJS(t, "the confirm dialog", `document.getElementById("confirm").open`)
		g.do(t, "Escape", chromedp.KeyEvent(kb.Escape))
		g.waitJS(t, "the confirm dialog to close", `!document.getElementById("confirm").open`)
		if !g.has(t, row("big.bin")) || g.dirJSON(t, rootCap).Children["big.bin"] == nil {
			t.Errorf("Escape in the delete dialog deleted big.bin")
		}

		// The skip link moves the focus to #main and keeps the page.
		g.open(t, g.uiHash(t, "browse", rootCap))
		g.waitSel(t, row("big.bin"))
		g.do(t, "Tab, Enter on the skip link", chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Enter))
		g.waitJS(t, "the focus on #main", `document.activeElement === document.getElementById("main")`)
		time.Sleep(200 * time.Millisecond) // a re-render would follow the hashchange at once
		if !g.has(t, row("big.bin")) {
			t.Errorf("following the skip link (href=#main) replaced the page: %s", g.mainText(t))
			g.open(t, g.uiHash(t, "browse", rootCap))
			g.waitSel(t, row("big.bin"))
		}

		// The drop zone opens the file picker from the keyboard.
		if !eval[bool](t, g, `(document.getElementById("dropzone") || {}).tabIndex >= 0`) {
			t.Errorf("#dropzone is not keyboard reachable (tabIndex < 0 or missing)")
		} else {
			if _, err := chromedp.Call(g.ctx, page.SetInterceptFileChooserDialog, page.SetInterceptFileChooserDialogParams{Enabled: true}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(g.ctx, 5*time.Second)
			opened := chromedp.Events(ctx, page.FileChooserOpened)
			g.do(t, "Enter on #dropzone", chromedp.Focus(chromedp.CSS("#dropzone")), chromedp.KeyEvent(kb.Enter))
			for _, err := range opened {
				if err != nil {
					t.Errorf("Enter on #dropzone opened no file picker: %v", err)
				}
				break
			}
			cancel()
			if _, err := chromedp.Call(g.ctx, page.SetInterceptFileChooserDialog, page.SetInterceptFileChooserDialogParams{Enabled: false}); err != nil {
				t.Fatal(err)
			}
		}

		// Accessible names and contrast, on the file browser. A nameless
		// button and grey-on-white text are planted first, to show that
		// the checks find them.
		t.Logf("checking the names of %d controls in #main", g.count(t, "#main button, #main a[href], #main input, #main select, #main textarea"))
		eval[chromedp.Void](t, g, `void (() => {
  const b = document.createElement("button"); b.id = "lafs-test-unnamed"; document.getElementById("main").append(b);
  const p = document.createElement("p"); p.id = "lafs-test-grey"; p.textContent = "grey"; p.style.color = "#bbb"; p.style.background = "#fff";
  document.getElementById("main").append(p);
})()`)
		planted := func(bad []string, id string) []string {
			var rest []string
			found := false
			for _, b := range bad {
				if strings.Contains(b, id) {
					found = true
				} else {
					rest = append(rest, b)
				}
			}
			if !found {
				t.Errorf("the check missed the planted #%s", id)
			}
			return rest
		}
		if bad := planted(eval[[]string](t, g, unnamedControlsJS), "lafs-test-unnamed"); len(bad) > 0 {
			t.Errorf("controls in #main without an accessible name:\n%s", strings.Join(bad, "\n"))
		}
		if bad := planted(eval[[]string](t, g, lowContrastJS), "lafs-test-grey"); len(bad) > 0 {
			t.Errorf("text below WCAG AA contrast (4.5):\n%s", strings.Join(bad, "\n"))
		}
		eval[chromedp.Void](t, g, `void ["lafs-test-unnamed", "lafs-test-grey"].forEach((id) => document.getElementById(id).remove())`)
	})

	t.Run("DotNames", func(t *testing.T) {
		// Children named "." and "..", which the server allows but a URL
		// path cannot carry: made with Go, opened, uploaded into and
		// deleted through the UI without harm to their parent.
		dir := strings.TrimSpace(string(httpDo(t, "POST", g.base+"/uri?t=mkdir", nil)))
		httpDo(t, "PUT", g.base+"/uri/"+dir+"/keep.txt", []byte("keep me\n"))
		httpRaw(t, "PUT", g.base, "/uri/"+dir+"/%2E?t=mkdir", nil)
		dotdot := []byte("a file named dot dot\n")
		httpRaw(t, "PUT", g.base, "/uri/"+dir+"/%2E%2E", dotdot)
		d := g.dirJSON(t, dir)
		if len(d.Children) != 3 || d.Children["."] == nil || d.Children[".."] == nil || d.Children["keep.txt"] == nil {
			t.Fatalf("the directory made with Go has %d children, want ., .. and keep.txt", len(d.Children))
		}
		dotCap := d.childCap(t, ".")

		g.open(t, "#/browse") // for uiHash
		g.open(t, g.uiHash(t, "browse", dir))
		for _, n := range []string{".", "..", "keep.txt"} {
			g.waitSel(t, row(n))
		}

		// The ".." file downloads by its cap, not by a path.
		href := eval[string](t, g, `document.querySelector(`+jsString(row("..")+` a[data-action="download"]`)+`).href`)
		if strings.Contains(href, "/uri/URI%3ADIR2") || strings.Contains(href, "/uri/URI:DIR2") {
			t.Errorf(`the ".." file's download link goes through its directory`)
		} else if got := httpDo(t, "GET", href, nil); !bytes.Equal(got, dotdot) {
			t.Errorf(`the ".." file's download link gave %q`, got)
		}

		// Into ".", which is empty, and an upload there.
		g.do(t, `opening "."`, chromedp.Click(chromedp.CSS(row(".")+" a.open")))
		g.waitJS(t, `the "." directory's page`, `location.hash === `+jsString(g.uiHash(t, "browse", dir, "."))+
			` && document.querySelector("#listing tr.empty") !== null`)
		if g.has(t, row("keep.txt")) {
			t.Errorf(`opening "." shows its parent`)
		}
		if crumbs := g.text(t, `nav[aria-label="Breadcrumbs"]`); !strings.Contains(crumbs, ".") {
			t.Errorf(`the breadcrumbs do not show ".": %q`, crumbs)
		}
		inner := filepath.Join(t.TempDir(), "inner.txt")
		if err := os.WriteFile(inner, []byte("inside dot\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		g.do(t, `uploading into "."`, chromedp.SetUploadFiles(chromedp.CSS("input#upload-input"), []string{inner}))
		g.waitSel(t, `ul#uploads li[data-upload="inner.txt"].done`)
		g.waitSel(t, row("inner.txt"))
		if g.dirJSON(t, dotCap).Children["inner.txt"] == nil || g.dirJSON(t, dir).Children["inner.txt"] != nil {
			t.Errorf(`inner.txt did not land in "." alone`)
		}

		// Back up by the breadcrumbs.
		crumb := fmt.Sprintf(`nav[aria-label="Breadcrumbs"] a[href=%s]`, jsString(g.uiHash(t, "browse", dir)))
		g.do(t, "clicking the root breadcrumb", chromedp.Click(chromedp.CSS(crumb)))
		g.waitSel(t, row("keep.txt"))

		// "." and ".." are refused as new names, with a message.
		g.do(t, `mkdir "."`, chromedp.SendKeys(chromedp.CSS("input#mkdir-name"), "."), chromedp.KeyEvent(kb.Enter))
		g.waitJS(t, "a toast refusing the name", `/cannot be a name/.test(document.getElementById("toasts").textContent)`)
		g.do(t, "clicking rename", chromedp.Click(chromedp.CSS(row("keep.txt")+` button[data-action="rename"]`)))
		g.waitSel(t, "input#rename-input")
		g.do(t, `renaming to ".."`, chromedp.SetValue(chromedp.CSS("input#rename-input"), ".."),
			chromedp.Focus(chromedp.CSS("input#rename-input")), chromedp.KeyEvent(kb.Enter))
		g.waitJS(t, "a toast refusing the name", `/Cannot rename to/.test(document.getElementById("toasts").textContent)`)
		// A name is taken as typed: a trailing space makes another name
		// (which t=rename would strip: the UI relinks the cap instead).
		g.do(t, `renaming to "keep.txt "`, chromedp.SetValue(chromedp.CSS("input#rename-input"), "keep.txt "),
			chromedp.Focus(chromedp.CSS("input#rename-input")), chromedp.KeyEvent(kb.Enter))
		g.waitSel(t, row("keep.txt "))
		g.waitGone(t, row("keep.txt"))
		g.do(t, `clicking rename of "keep.txt "`, chromedp.Click(chromedp.CSS(row("keep.txt ")+` button[data-action="rename"]`)))
		g.waitSel(t, "input#rename-input")
		if v := eval[string](t, g, `document.getElementById("rename-input").value`); v != "keep.txt " {
			t.Errorf("#rename-input prefilled with %q, want %q", v, "keep.txt ")
		}
		g.do(t, `renaming "keep.txt " back`, chromedp.SetValue(chromedp.CSS("input#rename-input"), "keep.txt"),
			chromedp.Focus(chromedp.CSS("input#rename-input")), chromedp.KeyEvent(kb.Enter))
		g.waitSel(t, row("keep.txt"))
		g.waitGone(t, row("keep.txt "))
		if got := string(httpDo(t, "GET", g.base+"/uri/"+g.dirJSON(t, dir).childCap(t, "keep.txt"), nil)); got != "keep me\n" {
			t.Errorf("after two renames, keep.txt holds %q", got)
		}

		// Deleting "." unlinks "." only.
		g.do(t, `deleting "."`, chromedp.Click(chromedp.CSS(row(".")+` button[data-action="delete"]`)))
		g.waitJS(t, "the confirm dialog", `document.getElementById("confirm").open`)
		g.do(t, "confirming", chromedp.Click(chromedp.CSS("#confirm-ok")))
		g.waitGone(t, row("."))
		d = g.dirJSON(t, dir)
		if len(d.Children) != 2 || d.Children[".."] == nil || d.Children["keep.txt"] == nil {
			t.Errorf(`after deleting ".", the directory has %d children, want ".." and keep.txt`, len(d.Children))
		}
		if !g.has(t, row("..")) || !g.has(t, row("keep.txt")) {
			t.Errorf(`after deleting ".", the listing lost its other rows`)
		}
		if g.dirJSON(t, dotCap).Children["inner.txt"] == nil {
			t.Errorf(`the unlinked "." directory lost its content`)
		}
	})

	t.Run("UploadCancel", func(t *testing.T) {
		needBrowse(t)
		g.open(t, g.uiHash(t, "browse", rootCap))
		g.waitSel(t, "input#upload-input")
		eval[chromedp.Void](t, g, `void performance.setResourceTimingBufferSize(100000)`)
		huge := filepath.Join(t.TempDir(), "huge.bin")
		f, err := os.Create(huge)
		if err != nil {
			t.Fatal(err)
		}
		chunk := make([]byte, 1<<20)
		for range 50 {
			rand.Read(chunk)
			if _, err := f.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		li := `ul#uploads li[data-upload="huge.bin"]`
		g.do(t, "choosing huge.bin", chromedp.SetUploadFiles(chromedp.CSS("input#upload-input"), []string{huge}))
		// Cancel as soon as some of it is sent, from inside the page (a
		// round trip per look could miss the upload).
		sent := eval[float64](t, g, `new Promise((resolve) => {
  const t0 = Date.now();
  const tick = () => {
    const li = document.querySelector(`+jsString(li)+`);
    const p = li && li.querySelector("progress");
    const b = li && li.querySelector('button[data-action="cancel-upload"]');
    if (li && !b) return resolve(-1);
    if (p && b && p.value > 0) {
      window.lafsTestJSON = performance.getEntriesByType("resource").filter((e) => e.name.includes("t=json")).length;
      b.click();
      return resolve(p.value / p.max);
    }
    if (Date.now() - t0 > 20000) return resolve(-2);
    setTimeout(tick, 5);
  };
  tick();
})`)
		switch {
		case sent == -1:
			t.Skipf("skipped: huge.bin finished uploading before it could be cancelled (%q)", g.text(t, li))
		case sent < 0:
			t.Fatalf("huge.bin's upload never showed progress: %q", g.text(t, li))
		}
		t.Logf("cancelled huge.bin with %.0f%% sent", 100*sent)
		g.waitSel(t, li+".cancelled")
		g.waitJS(t, "the listing to refresh after the cancel",
			`performance.getEntriesByType("resource").filter((e) => e.name.includes("t=json")).length > window.lafsTestJSON`)
		time.Sleep(200 * time.Millisecond) // the refreshed listing is drawn
		if g.dirJSON(t, rootCap).Children["huge.bin"] != nil {
			t.Logf("the node linked huge.bin despite the cancel")
			g.waitSel(t, row("huge.bin"))
		} else if g.has(t, row("huge.bin")) {
			t.Errorf("the listing shows huge.bin, which the node does not have")
		}
	})

	t.Run("ReplacePrompt", func(t *testing.T) {
		// Uploading over an existing name asks by what is there: an
		// immutable file's name moves, a mutable file is overwritten for
		// all, and a directory is never replaced.
		needBrowse(t)
		if g.dirJSON(t, rootCap).Children["notes.txt"] == nil {
			t.Skip("skipped: the Edit step made no notes.txt")
		}
		g.open(t, g.uiHash(t, "browse", rootCap))
		g.waitSel(t, "input#upload-input")
		tmp := t.TempDir()
		for _, c := range []struct{ name, want string }{
			{"big.bin", "point to the uploaded file"},
			{"notes.txt", "for everyone who holds its cap"},
		} {
			p := filepath.Join(tmp, c.name)
			if err := os.WriteFile(p, []byte("not this\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			g.do(t, "choosing "+c.name, chromedp.SetUploadFiles(chromedp.CSS("input#upload-input"), []string{p}))
			g.waitJS(t, "the confirm dialog", `document.getElementById("confirm").open`)
			if q := g.text(t, "#confirm-text"); !strings.Contains(q, c.want) {
				t.Errorf("uploading over %s asks %q, want it to say %q", c.name, q, c.want)
			}
			g.do(t, "cancelling", chromedp.Click(chromedp.CSS("#confirm-cancel")))
			g.waitJS(t, "the confirm dialog to close", `!document.getElementById("confirm").open`)
		}
		if err := os.Mkdir(filepath.Join(tmp, "d"), 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(tmp, "d", "sub dir")
		if err := os.WriteFile(p, []byte("not a directory\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		g.do(t, "choosing a file named sub dir", chromedp.SetUploadFiles(chromedp.CSS("input#upload-input"), []string{p}))
		g.waitJS(t, "a toast refusing to replace the directory", `/a directory of that name exists/.test(document.getElementById("toasts").textContent)`)
		if g.has(t, "ul#uploads li") || eval[bool](t, g, `document.getElementById("confirm").open`) {
			t.Errorf("an upload started, or a question was asked, over the directory sub dir")
		}
		if got := string(httpDo(t, "GET", g.base+"/uri/"+g.dirJSON(t, rootCap).childCap(t, "notes.txt"), nil)); got == "not this\n" {
			t.Errorf("notes.txt was overwritten although the question was cancelled")
		}
	})

	t.Run("BigDir", func(t *testing.T) {
		// 601 children: the listing shows 500 rows and a button for all.
		dir := strings.TrimSpace(string(httpDo(t, "POST", g.base+"/uri?t=mkdir", nil)))
		fileCap := strings.TrimSpace(string(httpDo(t, "PUT", g.base+"/uri", []byte("one of many\n"))))
		kids := map[string]any{}
		for i := range 601 {
			kids[fmt.Sprintf("f%04d", i)] = []any{"filenode", map[string]string{"ro_uri": fileCap}}
		}
		body, err := json.Marshal(kids)
		if err != nil {
			t.Fatal(err)
		}
		httpDo(t, "POST", g.base+"/uri/"+dir+"?t=set_children", body)
		g.open(t, "#/browse") // for uiHash
		g.open(t, g.uiHash(t, "browse", dir))
		g.waitSel(t, "button#show-all-rows")
		if n := g.count(t, "#listing tr[data-name]"); n != 500 {
			t.Errorf("a directory of 601 shows %d rows, want 500", n)
		}
		g.do(t, "clicking show all", chromedp.Click(chromedp.CSS("button#show-all-rows")))
		g.waitJS(t, "601 rows", `document.querySelectorAll("#listing tr[data-name]").length === 601`)
		if !g.has(t, row("f0600")) || g.has(t, "button#show-all-rows") {
			t.Errorf("after show all, the last row is missing or the button stayed")
		}
	})

	t.Run("StartPage", func(t *testing.T) {
		g.open(t, "#/browse")
		g.waitSel(t, "button#new-root-dir")
		g.waitSel(t, "#recent-dirs")
		g.noJunk(t, "Files start")
		g.a11y(t, "Files start")
		g.screenshot(t, "files-start")
	})

	t.Run("Screenshots", func(t *testing.T) {
		g.goHash(t, "#/ops")
		g.waitSel(t, "table#ops-recent")
		g.waitSel(t, "table#ops-active")
		g.waitJS(t, "an upload in table#ops-recent", `/upload/i.test(document.querySelector("table#ops-recent").innerText)`)
		g.noJunk(t, "activity")
		g.a11y(t, "activity")
		g.screenshot(t, "ops")
	})

	// Last, since it leaves the tab on another node's UI.
	t.Run("Storage", func(t *testing.T) {
		g.open(t, "#/storage")
		g.waitSel(t, "p#no-storage")
		if g.has(t, "div#storage") {
			t.Errorf("the client, which has no storage, shows div#storage")
		}
		g.noJunk(t, "storage (client)")
		g.a11y(t, "storage (client)")
		g.screenshot(t, "storage-none")
		if g.storageBase == "" {
			return
		}
		g.do(t, "opening storage-0's storage page", chromedp.Navigate("about:blank"), chromedp.Navigate(g.storageBase+"/ui/#/storage"))
		g.waitSel(t, "div#storage")
		g.waitJS(t, "the space on the storage page", `/available space/i.test(document.getElementById("storage").innerText)`)
		if g.has(t, "p#no-storage") {
			t.Errorf("a storage node shows p#no-storage")
		}
		g.noJunk(t, "storage")
		g.a11y(t, "storage")
		g.screenshot(t, "storage")
	})
}

// httpRaw is httpDo with the request's path and query sent exactly as
// given: base is http://HOST:PORT, rawPath is escaped ("/uri/CAP/%2E"),
// and neither Go nor the server reads "%2E" as a move.
func httpRaw(t *testing.T, method, base, rawPath string, body []byte) []byte {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	path, query, _ := strings.Cut(rawPath, "?")
	u.Opaque = path // sent as the request target, unchanged
	u.RawQuery = query
	req, err := http.NewRequest(method, base, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.URL = u
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err // without the URL, which holds a cap
		}
		t.Fatalf("%s (raw path): %v", method, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s (raw path): %d %s", method, resp.StatusCode, b)
	}
	return b
}

// unnamedControlsJS lists the buttons, links and inputs in #main that have
// no accessible name: no text, aria-label, aria-labelledby, <label for>,
// enclosing label, value (for input buttons) or title.
const unnamedControlsJS = `(() => {
  const bad = [];
  const main = document.getElementById("main");
  for (const e of main.querySelectorAll("button, a[href], input, select, textarea, summary")) {
    if (e.type === "hidden") continue;
    let name = (e.getAttribute("aria-label") || "").trim();
    const by = e.getAttribute("aria-labelledby");
    if (!name && by) name = by.split(/\s+/).map((id) => (document.getElementById(id) || {}).textContent || "").join(" ").trim();
    if (!name && e.id) {
      const l = document.querySelector('label[for="' + CSS.escape(e.id) + '"]');
      if (l) name = l.textContent.trim();
    }
    if (!name && e.closest("label")) name = e.closest("label").textContent.trim();
    if (!name && !["INPUT", "SELECT", "TEXTAREA"].includes(e.tagName)) name = e.textContent.trim();
    if (!name && e.tagName === "INPUT" && ["submit", "button", "reset"].includes(e.type)) name = e.value.trim();
    if (!name) name = (e.getAttribute("title") || "").trim();
    if (!name) bad.push(e.outerHTML.slice(0, 160));
  }
  return bad;
})()`

// lowContrastJS lists text in the page (the body and visible text elements
// in #main) whose colour against its background has a WCAG contrast ratio
// below 4.5. Colours are read through a canvas, so any CSS colour syntax
// works; backgrounds with alpha are composited up the tree over white.
const lowContrastJS = `(() => {
  const cv = document.createElement("canvas");
  cv.width = cv.height = 1;
  const cx = cv.getContext("2d", { willReadFrequently: true });
  const rgba = (c) => {
    cx.clearRect(0, 0, 1, 1);
    cx.fillStyle = "rgba(0,0,0,0)";
    cx.fillStyle = c;
    cx.fillRect(0, 0, 1, 1);
    const d = cx.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  };
  const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
  const background = (e) => {
    const layers = [];
    for (let n = e; n && n.nodeType === 1; n = n.parentElement) {
      const c = rgba(getComputedStyle(n).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let bg = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const bad = [];
  const els = [document.body, ...document.querySelectorAll("#main h1, #main h2, #main p, #main td, #main th, #main a, #main button, #main label, #main li, #main span, header a")];
  for (const e of els) {
    if (e !== document.body) {
      if (!e.offsetParent && getComputedStyle(e).position !== "fixed") continue;
      if (![...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    }
    const bg = background(e);
    const fg = over(rgba(getComputedStyle(e).color), bg);
    const r = ratio(fg, bg);
    if (r < 4.5) bad.push(r.toFixed(2) + ": " + e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + String(e.className).replace(/\s+/g, ".") : "") + " " + JSON.stringify(e.textContent.trim().slice(0, 40)));
  }
  return bad;
})()`
