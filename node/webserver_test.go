package node

import (
	"net/http"
	"testing"
	"time"
)

// TestWebServerTimeouts checks the web API server's limits: headers and
// kept-alive idle connections are bounded (idle ones were not, so a
// client could hold connections open forever), while whole requests and
// answers are not, since uploads and downloads may be long; a stalled
// body is the web API's to cut.
func TestWebServerTimeouts(t *testing.T) {
	s := newWebServer(http.NotFoundHandler())
	if s.ReadHeaderTimeout <= 0 || s.ReadHeaderTimeout > webIdleTimeout {
		t.Errorf("ReadHeaderTimeout %v", s.ReadHeaderTimeout)
	}
	if s.IdleTimeout <= 0 || s.IdleTimeout > 5*time.Minute {
		t.Errorf("IdleTimeout %v, want a bound of minutes at most", s.IdleTimeout)
	}
	if s.ReadTimeout != 0 || s.WriteTimeout != 0 {
		t.Errorf("ReadTimeout %v, WriteTimeout %v: they would cut long uploads and downloads", s.ReadTimeout, s.WriteTimeout)
	}
}
