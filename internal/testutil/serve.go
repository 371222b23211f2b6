package testutil

import (
	"net"
	"testing"
)

// Serve listens on network and addr (such as "tcp", "127.0.0.1:0"), and
// until t ends runs handle on each connection it accepts, in a goroutine
// of its own, closing the connection when handle returns. It returns the
// listener, for its address.
func Serve(t testing.TB, network, addr string, handle func(net.Conn)) net.Listener {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return l
}
