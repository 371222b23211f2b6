//go:build unix

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// withUmask runs f with the process's umask set to m.
func withUmask(m int, f func()) {
	old := syscall.Umask(m)
	defer syscall.Umask(old)
	f()
}

// get writes as cp and Tahoe do: never through a file the user may not
// write, new files with the umask's mode, replaced files keeping theirs,
// through symbolic links to the file they name, into FIFOs as they are.
func TestSafetyGetFileModes(t *testing.T) {
	n, _ := errorsNode(t)
	want := n.get(n.aliasCap("tahoe") + "/f")
	dir := t.TempDir()
	mode := func(p string) os.FileMode {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Mode().Perm()
	}
	get := func(to string) (string, int) {
		_, errOut, code := n.run(nil, "get", "tahoe:f", to)
		return errOut, code
	}

	// New files: 0666 less the umask.
	for _, tt := range []struct {
		umask int
		want  os.FileMode
	}{{0o022, 0o644}, {0o027, 0o640}, {0o077, 0o600}, {0o002, 0o664}} {
		p := filepath.Join(dir, fmt.Sprintf("new-%03o", tt.umask))
		var errOut string
		var code int
		withUmask(tt.umask, func() { errOut, code = get(p) })
		if code != 0 {
			t.Fatalf("get to a new file: %s", errOut)
		}
		if m := mode(p); m != tt.want {
			t.Errorf("umask %03o: a new file has mode %04o, want %04o", tt.umask, m, tt.want)
		}
		if b, _ := os.ReadFile(p); string(b) != want {
			t.Errorf("umask %03o: wrong contents", tt.umask)
		}
	}

	// A writable file keeps its mode, whatever the umask.
	kept := filepath.Join(dir, "kept")
	os.WriteFile(kept, []byte("old"), 0o600)
	os.Chmod(kept, 0o654)
	withUmask(0o077, func() {
		if errOut, code := get(kept); code != 0 {
			t.Fatalf("get over a writable file: %s", errOut)
		}
	})
	if b, _ := os.ReadFile(kept); string(b) != want || mode(kept) != 0o654 {
		t.Errorf("get over a 0654 file: mode %04o, %d bytes", mode(kept), len(b))
	}

	// Symbolic links are followed, to the file they name.
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("old"), 0o640)
	link := filepath.Join(dir, "link")
	os.Symlink("target", link)
	if errOut, code := get(link); code != 0 {
		t.Fatalf("get through a link: %s", errOut)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("get replaced the link")
	}
	if b, _ := os.ReadFile(target); string(b) != want || mode(target) != 0o640 {
		t.Errorf("get through a link: the target has mode %04o, %d bytes", mode(target), len(b))
	}
	dangling := filepath.Join(dir, "dangling")
	os.Symlink("nowhere", dangling)
	if errOut, code := get(dangling); code != 1 || !strings.Contains(errOut, "is a symbolic link to a file that does not exist; not writing through it") {
		t.Errorf("get through a dangling link: %d %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "nowhere")); err == nil {
		t.Errorf("get wrote through a dangling link")
	}

	// A FIFO is written into, as Tahoe would.
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- nil
			return
		}
		b, _ := io.ReadAll(f)
		f.Close()
		got <- b
	}()
	if errOut, code := get(fifo); code != 0 {
		t.Fatalf("get into a FIFO: %s", errOut)
	}
	if b := <-got; string(b) != want {
		t.Errorf("get into a FIFO: %d bytes", len(b))
	}

	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".lafs-") {
			t.Errorf("get left %s", e.Name())
		}
	}
}

// A file the user may not write is not replaced, nor a file made in a
// directory the user may not write; a writable file there is written in
// place. Run as an ordinary user: as root, the lafs binary runs as nobody.
func TestSafetyGetReadOnly(t *testing.T) {
	n, _ := errorsNode(t)
	rc := strings.TrimSpace(n.call("GET", "uri/"+pyQuote(n.aliasCap("tahoe"))+"/f?t=uri", ""))
	want := n.get(rc)
	shared, err := os.MkdirTemp("", "lafs-safety-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(shared, "locked"), 0o755); os.RemoveAll(shared) })
	os.Chmod(shared, 0o777)
	nodeDir := filepath.Join(shared, "node")
	os.Mkdir(nodeDir, 0o755)
	os.WriteFile(filepath.Join(nodeDir, "node.url"), []byte(n.base+"\n"), 0o644)

	var cred *syscall.Credential
	owner := os.Geteuid()
	if owner == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			t.Skip("no user nobody to run as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred, owner = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid
	}
	bin := filepath.Join(shared, "lafs") // where nobody may run it
	exe, err := os.ReadFile(lafsBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bin, exe, 0o755)
	get := func(to string) (string, int) {
		cmd := exec.Command(bin, "-d", nodeDir, "get", rc, to)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		var e bytes.Buffer
		cmd.Stderr = &e
		cmd.Run()
		return e.String(), cmd.ProcessState.ExitCode()
	}
	mode := func(p string) os.FileMode {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Mode().Perm()
	}

	ro := filepath.Join(shared, "ro")
	os.WriteFile(ro, []byte("keep me"), 0o444)
	os.Chown(ro, owner, -1)
	errOut, code := get(ro)
	wantErr := "error: '" + ro + "' is not writable (mode 0444): lafs get does not replace a file you may not write; " +
		"make it writable (chmod u+w) or remove it first\n"
	if code != 1 || errOut != wantErr {
		t.Errorf("get over a 0444 file of the user's: %d %q, want %q", code, errOut, wantErr)
	}
	if b, _ := os.ReadFile(ro); string(b) != "keep me" || mode(ro) != 0o444 {
		t.Errorf("get over a 0444 file changed it: %q, mode %04o", b, mode(ro))
	}

	locked := filepath.Join(shared, "locked")
	os.Mkdir(locked, 0o755)
	inPlace := filepath.Join(locked, "w")
	os.WriteFile(inPlace, []byte("old"), 0o640)
	os.Chown(inPlace, owner, -1)
	os.Chown(locked, owner, -1)
	os.Chmod(locked, 0o555)
	if errOut, code := get(inPlace); code != 0 {
		t.Errorf("get over a writable file in a read-only directory: %d %s", code, errOut)
	} else if b, _ := os.ReadFile(inPlace); string(b) != want || mode(inPlace) != 0o640 {
		t.Errorf("get in place: mode %04o, %d bytes", mode(inPlace), len(b))
	}
	newFile := filepath.Join(locked, "new")
	if errOut, code := get(newFile); code != 1 || errOut != "error: cannot save to '"+newFile+"': permission denied\n" {
		t.Errorf("get to a new file in a read-only directory: %d %q", code, errOut)
	}
	if ents, _ := os.ReadDir(locked); len(ents) != 1 {
		t.Errorf("the read-only directory holds %v", ents)
	}
}

// leakPattern finds caps in output: URI: (or its quoted forms) and a known
// kind, with what follows.
var leakPattern = regexp.MustCompile(`(?:URI|uri)(?::|%3[aA]|%253[aA])(?:CHK|LIT|SSK|MDMF|DIR2|NEWKIND)[A-Za-z0-9:%-]*`)

// leakChecker finds caps in output that the command line did not hold.
type leakChecker struct {
	secrets []string // the root caps' key parts
}

func newLeakChecker(t *testing.T, caps ...string) *leakChecker {
	l := &leakChecker{}
	for _, c := range caps {
		pc := mustParse(t, c)
		for _, s := range []string{pc.String(), pc.ReadOnly().String()} {
			for _, f := range strings.Split(s, ":")[2:] {
				if len(f) >= 26 {
					l.secrets = append(l.secrets, f)
				}
			}
		}
	}
	return l
}

// check fails the test if out shows a cap that args did not hold.
func (l *leakChecker) check(t *testing.T, what string, args []string, out string) {
	t.Helper()
	line := strings.Join(args, " ")
	for _, tok := range leakPattern.FindAllString(out, -1) {
		plain := tok
		for i := 0; i < 2; i++ {
			if u, err := url.PathUnescape(plain); err == nil {
				plain = u
			}
		}
		plain = strings.TrimRight(plain, ":")
		if kind, rest, _ := strings.Cut(strings.TrimPrefix(plain, "URI:"), ":"); rest == "" && kind != "" {
			continue // a kind named, no cap
		}
		if !strings.Contains(line, plain) {
			t.Errorf("%s: lafs %s shows a cap it was not given: %s\n%s", what, line, tok, out)
			return
		}
	}
	for _, s := range l.secrets {
		if strings.Contains(out, s) && !strings.Contains(line, s) {
			t.Errorf("%s: lafs %s shows a root cap's key %s:\n%s", what, line, s, out)
			return
		}
	}
}

// Every verb, through its error paths (the node stopped; answering 500,
// 404 or 410 with pages that quote the URL and the caps; answering with
// a broken listing; redirecting; interrupted by Ctrl-C or SIGTERM), shows
// no cap the command line did not hold: errors name aliases and paths.
func TestSafetyNoCapsInErrors(t *testing.T) {
	n, local := errorsNode(t)
	tahoe := n.aliasCap("tahoe")
	other := n.mkdir()
	n.alias("other", other)
	child := strings.TrimSpace(n.call("GET", "uri/"+pyQuote(tahoe)+"/f?t=uri", ""))
	lc := newLeakChecker(t, tahoe, other, child)
	localDir := filepath.Join(t.TempDir(), "tree")
	writeTree(t, localDir, map[string]string{"a.txt": "a", "sub/b.txt": "b"})
	otherRO := mustParse(t, other).ReadOnly().String()

	commands := func() [][]string {
		out := t.TempDir()
		return [][]string{
			{"ls"}, {"ls", "-l", "tahoe:d"}, {"ls", "--uri", "other:"}, {"ls", "--json", "tahoe:"},
			{"ls", other + "/sub"}, {"ls", otherRO},
			{"get", "tahoe:f", filepath.Join(out, "f")}, {"get", "tahoe:d/g"}, {"get", otherRO + "/x", filepath.Join(out, "x")},
			{"put", local, "tahoe:new"}, {"put", local}, {"put", "-", "other:x"}, {"put", local, other + "/y"},
			{"mkdir", "tahoe:newdir"}, {"mkdir"}, {"mkdir", "other:a/b"},
			{"ln", "tahoe:f", "other:g"}, {"ln", child, "other:h"}, {"mv", "tahoe:f", "other:g"},
			{"unlink", "tahoe:f"}, {"rm", "other:x"},
			{"cp", local, "tahoe:d/"}, {"cp", "tahoe:f", filepath.Join(out, "cpf")},
			{"cp", "-r", "tahoe:d", filepath.Join(out, "cpd")}, {"cp", "-r", localDir, "other:"},
			{"cp", "--verbose", "-r", localDir, "tahoe:d"},
			{"backup", localDir, "tahoe:backups"}, {"backup", "-v", localDir, "other:b"},
			{"check", "tahoe:f"}, {"check", "--raw", "tahoe:"}, {"check", "--verify", "--repair", "other:"},
			{"deep-check", "tahoe:"}, {"deep-check", "-v", "--repair", "other:"}, {"deep-check", "--raw", "tahoe:"},
			{"manifest", "tahoe:"}, {"manifest", "--raw", "other:"},
			{"stats", "tahoe:"}, {"stats", "--raw", "other:"},
			{"create-alias", "new"},
		}
	}

	// page is an error page that quotes everything a careless node could.
	page := func(r *http.Request) string {
		return fmt.Sprintf("<html><head><title>Error</title></head><body><p>Your browser approached me (at %s) "+
			"for %s, %s.</p><p>root %s, ro %s, other %s, child %s, quoted %s</p></body></html>",
			r.RequestURI, r.URL.Path, r.URL.RawPath, tahoe, mustParse(t, tahoe).ReadOnly(), other, child, pyQuote(tahoe))
	}
	answering := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(code)
			io.WriteString(w, page(r))
		}
	}
	broken := func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Method != http.MethodGet {
			answering(http.StatusInternalServerError)(w, r)
			return
		}
		// A listing cut in the middle, holding the caps.
		fmt.Fprintf(w, `["dirnode", {"rw_uri": %q, "ro_uri": %q, "children": {"f": ["filenode", {"ro_uri": %q`,
			tahoe, mustParse(t, tahoe).ReadOnly(), child)
	}
	var srv *httptest.Server
	redirect := func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if strings.HasPrefix(r.URL.Path, "/moved/") {
			answering(http.StatusNotFound)(w, r)
			return
		}
		http.Redirect(w, r, srv.URL+"/moved/"+pyQuote(other)+r.URL.Path, http.StatusFound)
	}

	stopped, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stoppedURL := "http://" + stopped.Addr().String() + "/"
	stopped.Close()

	for _, sc := range []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"stopped", nil}, {"500", answering(500)}, {"404", answering(404)}, {"410", answering(410)},
		{"broken listing", broken}, {"redirect", redirect},
	} {
		base := stoppedURL
		if sc.handler != nil {
			srv = httptest.NewServer(sc.handler)
			base = srv.URL + "/"
		}
		dir := newNodeDir(t, base, map[string]string{"tahoe": tahoe, "other": other})
		for _, args := range commands() {
			stdout, stderr, code := runCmd(t, []byte("stdin data"), append([]string{"-d", dir}, args...)...)
			if code == 0 && sc.name != "broken listing" {
				t.Errorf("%s: lafs %s succeeded:\n%s%s", sc.name, strings.Join(args, " "), stdout, stderr)
			}
			if sc.name == "broken listing" && (args[0] == "ls" && len(args) > 1 && args[1] == "--json" || args[0] == "get" && len(args) == 2) {
				continue // the listing, or the file, asked for, as it came
			}
			lc.check(t, sc.name, args, stdout+stderr)
		}
		if srv != nil {
			srv.Close()
			srv = nil
		}
	}

	// Interrupted: every request hangs until the command's context ends,
	// which a signal ends as soon as the node has a request.
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		var mu sync.Mutex
		var stop func()
		hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			if stop != nil {
				stop()
			}
			mu.Unlock()
			// Reading the body lets the server see the client go.
			io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
		}))
		dir := newNodeDir(t, hang.URL+"/", map[string]string{"tahoe": tahoe, "other": other})
		for _, args := range commands() {
			ctx, cancel := context.WithCancelCause(context.Background())
			mu.Lock()
			stop = func() { cancel(&signalled{sig}) }
			mu.Unlock()
			var o, e bytes.Buffer
			ev := &env{stdin: strings.NewReader("stdin data"), stdout: &o, stderr: &e, getenv: func(string) string { return "" }}
			done := make(chan int)
			go func() { done <- run(ctx, ev, append([]string{"-d", dir}, args...)) }()
			var code int
			select {
			case code = <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("%v: lafs %s did not stop", sig, strings.Join(args, " "))
			}
			cancel(nil)
			if code != 128+int(sig) {
				t.Errorf("%v: lafs %s exited %d, want %d:\n%s%s", sig, strings.Join(args, " "), code, 128+int(sig), o.String(), e.String())
			}
			lc.check(t, sig.String(), args, o.String()+e.String())
		}
		hang.Close()
	}
}

// Ctrl-C and SIGTERM stop a real lafs process with 130 and 143, saying
// so, showing no cap, leaving no temporary file.
func TestSafetySignalExitCodes(t *testing.T) {
	bin := lafsBinary(t)
	asked := make(chan struct{}, 1)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case asked <- struct{}{}:
		default:
		}
		if r.Method == http.MethodGet {
			// A download that starts and stalls.
			w.Header().Set("Content-Length", "1000000")
			w.Write(make([]byte, 1000))
			w.(http.Flusher).Flush()
		}
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	}))
	t.Cleanup(hang.Close)
	dir := newNodeDir(t, hang.URL+"/", map[string]string{"tahoe": goldenDir})
	local := filepath.Join(t.TempDir(), "in")
	os.WriteFile(local, make([]byte, 100000), 0o644)
	outDir := t.TempDir()
	lc := newLeakChecker(t, goldenDir)
	for _, tt := range []struct {
		sig  syscall.Signal
		code int
		msg  string
		args []string
	}{
		{syscall.SIGINT, 130, "lafs: interrupted\n", []string{"put", local, "tahoe:x"}},
		{syscall.SIGTERM, 143, "lafs: stopped by terminated\n", []string{"put", local, "tahoe:x"}},
		{syscall.SIGINT, 130, "lafs: interrupted\n", []string{"get", "tahoe:x", filepath.Join(outDir, "x")}},
		{syscall.SIGINT, 130, "lafs: interrupted\n", []string{"ls", "tahoe:"}},
	} {
		select { // what the last command asked
		case <-asked:
		default:
		}
		cmd := exec.Command(bin, append([]string{"-d", dir}, tt.args...)...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-asked:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("lafs %s never asked the node", strings.Join(tt.args, " "))
		}
		time.Sleep(100 * time.Millisecond) // into the transfer
		cmd.Process.Signal(tt.sig)
		err := cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != tt.code || !strings.HasSuffix(e.String(), tt.msg) {
			t.Errorf("%v to lafs %s: exit %d (%v), stderr %q; want %d and %q", tt.sig, strings.Join(tt.args, " "), code, err, e.String(), tt.code, tt.msg)
		}
		lc.check(t, tt.sig.String(), tt.args, o.String()+e.String())
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
		t.Errorf("an interrupted get left %v", ents)
	}
}
