package foolscap

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
)

// TestTorHints: an onion tor: hint is dialled through the tub's dialer
// (which sends .onion addresses through Tor), and a tor: hint that names
// no onion address is not dialled at all.
func TestTorHints(t *testing.T) {
	var mu sync.Mutex
	var dialled []string
	refuse := errors.New("no network in this test")
	tub := newTestTub(t, WithDialer(func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialled = append(dialled, addr)
		mu.Unlock()
		return nil, refuse
	}))
	onion := strings.Repeat("a", 56) + ".onion"
	f, err := ParseFURL("pb://" + strings.Repeat("b", 32) + "@tor:" + onion + ":3457/" + strings.Repeat("c", 32))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tub.Connect(context.Background(), f); err == nil {
		t.Fatal("connected with a dialer that refuses")
	}
	if len(dialled) != 1 || dialled[0] != onion+":3457" {
		t.Fatalf("dialled %v, want the onion address", dialled)
	}
	g, err := ParseFURL("pb://" + strings.Repeat("b", 32) + "@tor:example.com:3457/" + strings.Repeat("c", 32))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tub.Connect(context.Background(), g); err == nil || !strings.Contains(err.Error(), "no tcp or onion connection hint") {
		t.Fatalf("a tor: hint to a non-onion host: %v", err)
	}
	if len(dialled) != 1 {
		t.Fatalf("dialled %v", dialled)
	}
}
