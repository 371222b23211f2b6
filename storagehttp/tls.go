package storagehttp

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"

	"github.com/lafs/lafs/nurl"
)

// ServerTLSConfig is the TLS configuration of a storage server presenting
// cert (the node's private/node.pem): nurl.ServerTLSConfig.
func ServerTLSConfig(cert tls.Certificate) *tls.Config { return nurl.ServerTLSConfig(cert) }

// NewServer returns an HTTP/1.1 server for h with TLS set up for cert and
// with timeouts that bound idle and slow clients but not the transfer of
// a large share: start it with srv.ServeTLS(ln, "", ""). (A request body
// that stops arriving is cut by Handler: see WithBodyTimeout.)
func NewServer(h http.Handler, cert tls.Certificate) *http.Server {
	return &http.Server{
		Handler:           h,
		TLSConfig:         ServerTLSConfig(cert),
		ReadHeaderTimeout: 60 * time.Second,
		IdleTimeout:       5 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		// A non-nil empty map turns HTTP/2 off: the protocol is HTTP/1.1.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
}

// ServeTLS serves h over TLS with cert on ln until ln fails or is closed.
// Use NewServer instead to be able to shut the server down gracefully.
func ServeTLS(ln net.Listener, cert tls.Certificate, h http.Handler) error {
	return NewServer(h, cert).ServeTLS(ln, "", "")
}
