// Package s3test starts a real S3 server for tests: versitygw
// (github.com/versity/versitygw) over its posix backend, which needs only
// a folder. Tests of backend/s3 and of S3-backed storage nodes use it, as
// restic's S3 tests start a real minio.
//
// The server binary is looked up as $VERSITYGW, then versitygw on $PATH,
// then $(go env GOPATH)/bin/versitygw. When it is missing the test is
// skipped with a message saying how to install it, unless LAFS_REQUIRE_S3=1
// (CI sets it), where it fails instead:
//
//	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Version is the versitygw release the tests are written against.
const Version = "v1.8.0"

// Server is a running S3 server on 127.0.0.1 with one bucket.
type Server struct {
	// Endpoint is host:port (plain HTTP).
	Endpoint string
	// AccessKey and SecretKey are the root user's credentials.
	AccessKey, SecretKey string
	// Bucket is a bucket made at Start, empty then.
	Bucket string
	// Dir is the folder the server keeps its buckets in (one folder per
	// bucket, one file per object).
	Dir string

	bin string
	log string // the server's output

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has exited
}

// binary finds versitygw, or returns why it cannot.
func binary() (string, error) {
	if p := os.Getenv("VERSITYGW"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("$VERSITYGW: %w", err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	gopath := ""
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		gopath = strings.TrimSpace(string(out))
	}
	if gopath == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gopath = filepath.Join(home, "go")
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("versitygw not found in $VERSITYGW, $PATH or $(go env GOPATH)/bin")
}

// need finds versitygw or ends the test: skipped, or failed where
// LAFS_REQUIRE_S3=1.
func need(t testing.TB) string {
	t.Helper()
	bin, err := binary()
	if err == nil {
		return bin
	}
	msg := fmt.Sprintf("S3 tests need a versitygw server: %v; install it with `go install github.com/versity/versitygw/cmd/versitygw@%s`", err, Version)
	if os.Getenv("LAFS_REQUIRE_S3") == "1" {
		t.Fatal(msg + " (LAFS_REQUIRE_S3=1)")
	}
	t.Skip(msg)
	return ""
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Start starts a server of its own for t on a free port, in a folder of
// t.TempDir(), waits until it answers and makes Bucket. The server is
// killed when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := need(t)
	s, err := start(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

var shared struct {
	once sync.Once
	s    *Server
	dir  string
	err  error
}

// Shared returns a server started on first use and kept for the whole test
// process, for tests that need no server of their own (each should use a
// key prefix of its own in Bucket; see Prefix). A package using it stops
// it at the end of TestMain with StopShared.
func Shared(t testing.TB) *Server {
	t.Helper()
	bin := need(t)
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "lafs-s3test-")
		if shared.err == nil {
			shared.s, shared.err = start(bin, shared.dir)
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.s
}

// StopShared stops the server Shared started, if any, and removes its
// folder.
func StopShared() {
	if shared.s != nil {
		shared.s.stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
}

// Prefix returns a key prefix no other caller gets ("t-<random>/"), so
// that tests can share a server's bucket.
func Prefix() string { return "t-" + randomHex(6) + "/" }

// start starts a server keeping its files under dir.
func start(bin, dir string) (*Server, error) {
	s := &Server{
		AccessKey: "LAFSTEST" + strings.ToUpper(randomHex(6)),
		SecretKey: "lafs-test-secret-" + randomHex(12),
		Bucket:    "lafs-test",
		Dir:       filepath.Join(dir, "gw"),
		bin:       bin,
		log:       filepath.Join(dir, "versitygw.log"),
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("s3test: %w", err)
	}
	var err error
	for range 5 { // another process may take the free port first
		var port int
		if port, err = freePort(); err != nil {
			return nil, err
		}
		s.Endpoint = fmt.Sprintf("127.0.0.1:%d", port)
		if err = s.launch(); err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client().MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{}); err != nil {
		s.stop()
		return nil, fmt.Errorf("s3test: making bucket %s: %w", s.Bucket, err)
	}
	return s, nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("s3test: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// launch starts the server process on s.Endpoint and waits until it
// answers S3 requests.
func (s *Server) launch() error {
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("s3test: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(s.bin,
		"--access", s.AccessKey, "--secret", s.SecretKey,
		"--port", s.Endpoint, "--quiet",
		"posix", s.Dir)
	cmd.Stdout = logf
	cmd.Stderr = logf
	setPdeathsig(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("s3test: starting %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	c := s.Client()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.ListBuckets(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("s3test: versitygw on %s exited at start: %s", s.Endpoint, s.tail())
		default:
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("s3test: versitygw on %s does not answer: %v; %s", s.Endpoint, err, s.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tail returns the end of the server's output, for error messages.
func (s *Server) tail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "output: " + strings.TrimSpace(string(b))
}

// Client returns a client of the server with the root credentials and
// path-style addressing, for tests that look at or change the bucket
// behind a backend's back. Each request is tried once.
func (s *Server) Client() *minio.Core {
	c, err := minio.NewCore(s.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		BucketLookup: minio.BucketLookupPath,
		Region:       "us-east-1",
		MaxRetries:   1,
	})
	if err != nil {
		panic("s3test: " + err.Error()) // only for a malformed endpoint, which ours is not
	}
	return c
}

// Kill kills the server at once (SIGKILL), as a crash would; its folder is
// kept for Restart.
func (s *Server) Kill() { s.kill() }

func (s *Server) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-exited // reaped by launch's goroutine
}

// Restart starts the server again (killing it first if it runs) on the
// same port over the same folder, and waits until it answers.
func (s *Server) Restart() error {
	s.kill()
	var err error
	for range 20 { // the port may take a moment to be free again
		if err = s.launch(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// stop kills the server for good.
func (s *Server) stop() { s.kill() }
