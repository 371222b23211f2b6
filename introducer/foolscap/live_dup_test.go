package foolscap

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// blipProxy forwards TCP connections to target. blip drops the client
// halves only, so the far side still believes its connections alive, as
// after a network failure it has not noticed.
type blipProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   []net.Conn
	up     []net.Conn
}

func newBlipProxy(t *testing.T, target string) *blipProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &blipProxy{ln: ln, target: target}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range append(p.down, p.up...) {
			c.Close()
		}
	})
	go func() {
		for {
			d, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				d.Close()
				continue
			}
			p.mu.Lock()
			p.down, p.up = append(p.down, d), append(p.up, u)
			p.mu.Unlock()
			go io.Copy(u, d)
			go io.Copy(d, u)
		}
	}()
	return p
}

func (p *blipProxy) blip() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.down {
		c.Close()
	}
	p.down = nil
}

// When the network fails without the introducer noticing, a tub that
// reconnects is accepted (as the deciding side, or by Tahoe's rules for a
// connection that replaces one it still holds), in both roles.
func TestTahoeLiveReconnectOverStaleConnection(t *testing.T) {
	furl := os.Getenv("TAHOE_INTRODUCER_FURL")
	if furl == "" {
		t.Skip("TAHOE_INTRODUCER_FURL is not set: no live Tahoe introducer to test against (see ../shared/tahoe-ref)")
	}
	f, err := ParseFURL(furl)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHint(f.Hints[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, master := range []bool{true, false} {
		var tub *Tub
		for {
			if tub, err = NewTub(testCert(t, false)); err != nil {
				t.Fatal(err)
			}
			if (tub.TubID() > f.TubID) == master {
				break
			}
		}
		p := newBlipProxy(t, h.HostPort())
		via := FURL{TubID: f.TubID, Hints: []string{"tcp:" + p.ln.Addr().String()}, Name: f.Name}.String()
		for round := 0; round < 3; round++ {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			ref, err := tub.Dial(ctx, via)
			if err != nil {
				t.Fatalf("master=%v round %d: %v", master, round, err)
			}
			if _, err := ref.Call(ctx, "get_version"); err != nil {
				t.Fatalf("master=%v round %d: get_version: %v", master, round, err)
			}
			cancel()
			p.blip()
			select {
			case <-ref.Conn().Done():
			case <-time.After(10 * time.Second):
				t.Fatal("the connection outlived its blip")
			}
		}
		tub.Close()
	}
}
