package foolscap

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
)

// refusingTub returns a tub whose dialer refuses every connection, and a
// function that lists the addresses it was asked to dial.
func refusingTub(t *testing.T) (*Tub, func() []string) {
	var mu sync.Mutex
	var dialled []string
	tub := newTestTub(t, WithDialer(func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		defer mu.Unlock()
		dialled = append(dialled, addr)
		return nil, errors.New("no network in this test")
	}))
	return tub, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(dialled)
	}
}

// TestTorHints: an onion tor: hint is dialled through the tub's dialer
// (which sends .onion addresses through Tor), and a tor: hint that names
// no onion address is not dialled at all.
func TestTorHints(t *testing.T) {
	tub, dialled := refusingTub(t)
	onion := strings.Repeat("a", 56) + ".onion"
	f, err := ParseFURL("pb://" + strings.Repeat("b", 32) + "@tor:" + onion + ":3457/" + strings.Repeat("c", 32))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tub.Connect(context.Background(), f); err == nil {
		t.Fatal("connected with a dialer that refuses")
	}
	if d := dialled(); len(d) != 1 || d[0] != onion+":3457" {
		t.Fatalf("dialled %v, want the onion address", d)
	}
	g, err := ParseFURL("pb://" + strings.Repeat("b", 32) + "@tor:example.com:3457/" + strings.Repeat("c", 32))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tub.Connect(context.Background(), g); err == nil || !strings.Contains(err.Error(), "no tcp, onion or I2P connection hint") {
		t.Fatalf("a tor: hint to a non-onion host: %v", err)
	}
	if d := dialled(); len(d) != 1 {
		t.Fatalf("dialled %v", d)
	}
}

// TestI2PHints: i2p: hints, with or without a port, are dialled through
// the tub's dialer (which sends .i2p addresses through I2P), and not at
// all without one.
func TestI2PHints(t *testing.T) {
	tub, dialled := refusingTub(t)
	b32 := strings.Repeat("a", 52) + ".b32.i2p"
	for _, tc := range []struct{ hint, want string }{
		{"i2p:" + b32 + ":3457", b32 + ":3457"},
		{"i2p:" + b32, b32 + ":0"},
	} {
		before := len(dialled())
		f, err := ParseFURL("pb://" + strings.Repeat("b", 32) + "@" + tc.hint + "/" + strings.Repeat("c", 32))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tub.Connect(context.Background(), f); err == nil {
			t.Fatal("connected with a dialer that refuses")
		}
		if d := dialled()[before:]; len(d) != 1 || d[0] != tc.want {
			t.Fatalf("%s: dialled %v, want %s", tc.hint, d, tc.want)
		}
	}
	for _, bad := range []string{"i2p:a b.i2p:1", "i2p:x.i2p:123456", "i2p:"} {
		if h, err := ParseHint(bad); err == nil {
			t.Errorf("ParseHint(%q) = %+v, want an error", bad, h)
		}
	}
	plain := newTestTub(t)
	f, _ := ParseFURL("pb://" + strings.Repeat("b", 32) + "@i2p:" + b32 + ":3457/" + strings.Repeat("c", 32))
	if _, err := plain.Connect(context.Background(), f); err == nil || !strings.Contains(err.Error(), "no tcp, onion or I2P connection hint") {
		t.Fatalf("an i2p hint without a dialer: %v", err)
	}
}
