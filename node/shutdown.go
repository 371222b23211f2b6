package node

import (
	"net"
	"net/http"
	"sync"
)

// newConns keeps the connections of one HTTP server that have not sent a
// request yet. http.Server.Shutdown waits up to 5 s for such a connection
// (it cannot tell a slow client from a silent one), so a node that stops
// closes them first: a peer that opened a connection and sent nothing
// would otherwise hold every stop for 5 s.
type newConns struct {
	mu sync.Mutex
	m  map[net.Conn]struct{}
}

// trackNewConns follows s's connections (keeping any ConnState hook s
// already has).
func trackNewConns(s *http.Server) *newConns {
	nc := &newConns{m: map[net.Conn]struct{}{}}
	prev := s.ConnState
	s.ConnState = func(c net.Conn, st http.ConnState) {
		nc.mu.Lock()
		if st == http.StateNew {
			nc.m[c] = struct{}{}
		} else {
			delete(nc.m, c)
		}
		nc.mu.Unlock()
		if prev != nil {
			prev(c, st)
		}
	}
	return nc
}

// closeAll closes the connections that have sent no request.
func (nc *newConns) closeAll() {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	for c := range nc.m {
		c.Close()
	}
	clear(nc.m)
}
