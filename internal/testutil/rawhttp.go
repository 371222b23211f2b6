package testutil

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// Helpers for tests that speak HTTP/1.1 by hand over a raw connection, to
// send what no well-behaved client would (a body that stalls, broken
// chunked framing).

// SendRaw writes s to c.
func SendRaw(t testing.TB, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

// ReadAnswer reads one response from c (through br), waiting at most wait,
// and returns it with its whole body.
func ReadAnswer(t testing.TB, c net.Conn, br *bufio.Reader, wait time.Duration) (*http.Response, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer within %v: %v", wait, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return resp, string(b)
}

// WantClosed checks that the server closes c within wait, sending nothing
// more.
func WantClosed(t testing.TB, c net.Conn, br *bufio.Reader, wait time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	n, err := io.Copy(io.Discard, br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %v after answering", wait)
	}
	if n > 0 {
		t.Errorf("%d more bytes after the answer", n)
	}
}
