package testutil

import (
	"fmt"
	"net"
)

// FreePorts returns n distinct TCP ports of 127.0.0.1 that were free a
// moment ago, for a server a test starts in another process. Another
// process may take one before that server binds it; the server then
// fails to start, and says so.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
