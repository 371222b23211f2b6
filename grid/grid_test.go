package grid_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/grid"
	"github.com/lafs/lafs/internal/testgrid"
)

func ann(nick, nurl string, seq int64) grid.Announcement {
	tub := lafs.Base32([]byte("abcdefghijklmnopqrst"))
	return grid.Announcement{Nickname: nick, FURL: "pb://" + tub + "@tcp:127.0.0.1:1/x", NURLs: []string{nurl}, Seqnum: seq}
}

func TestBrokerConnectsAndPermutes(t *testing.T) {
	tg := testgrid.New(t, 3)
	var down atomic.Bool
	dial := func(ctx context.Context, nurl string) (lafs.StorageServer, error) {
		if down.Load() && nurl == "nurl-1" {
			return nil, errors.New("connection refused")
		}
		switch nurl {
		case "nurl-0":
			return tg.Servers[0].Storage, nil
		case "nurl-1":
			return tg.Servers[1].Storage, nil
		case "nurl-2":
			return tg.Servers[2].Storage, nil
		}
		return nil, errors.New("no such server")
	}
	b := grid.NewBroker(dial, nil, grid.WithCheckEvery(20*time.Millisecond), grid.WithRetryMax(20*time.Millisecond))
	defer b.Close()
	down.Store(true)
	for i, id := range []string{"v0-a", "v0-b", "v0-c"} {
		if err := b.Add(id, ann(id, "nurl-"+string(rune('0'+i)), 1)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.WaitConnected(ctx, 2); err != nil {
		t.Fatal(err)
	}
	var si lafs.StorageIndex
	if got := b.ServersFor(si); len(got) != 2 {
		t.Fatalf("%d servers usable with one down", len(got))
	}
	down.Store(false)
	if err := b.WaitConnected(ctx, 3); err != nil {
		t.Fatalf("server that came back: %v", err)
	}
	// Permuted order: the same for the same storage index, and by
	// SHA-1(si || seed).
	a, c := b.ServersFor(si), b.ServersFor(si)
	for i := range a {
		if a[i].ID != c[i].ID {
			t.Fatal("permuted order not stable")
		}
	}
	for i := 1; i < len(a); i++ {
		p, q := crypt.PermuteServerHash(si[:], a[i-1].PermutationSeed), crypt.PermuteServerHash(si[:], a[i].PermutationSeed)
		if string(p[:]) > string(q[:]) {
			t.Fatal("servers not in permuted order")
		}
	}
	// A v0- id with no announced seed permutes by its decoded key.
	states := b.States()
	if len(states) != 3 || !states[0].Connected {
		t.Fatalf("states: %+v", states)
	}
}

func TestBrokerSeqnum(t *testing.T) {
	tg := testgrid.New(t, 1)
	dialed := map[string]int{}
	dial := func(ctx context.Context, nurl string) (lafs.StorageServer, error) {
		dialed[nurl]++
		return tg.Servers[0].Storage, nil
	}
	b := grid.NewBroker(dial, nil)
	defer b.Close()
	if err := b.Add("v0-x", ann("new", "n2", 5)); err != nil {
		t.Fatal(err)
	}
	b.Add("v0-x", ann("old", "n1", 4)) // older: ignored
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if st := b.States(); st[0].Nickname != "new" {
		t.Errorf("older announcement replaced a newer one: %+v", st[0])
	}
	if err := b.Add("v0-y", grid.Announcement{NURLs: []string{"n"}}); err == nil {
		t.Error("announcement without a FURL (no lease seed) accepted")
	}
	if err := b.Add("v0-y", grid.Announcement{FURL: "pb://x@y/z"}); err == nil {
		t.Error("announcement without NURLs accepted")
	}
}

func TestStaticServers(t *testing.T) {
	y := `storage:
  v0-abc:
    ann:
      nickname: one
      anonymous-storage-FURL: pb://aaaa@tcp:127.0.0.1:1/sw
      anonymous-storage-NURLs: ["pb://h@127.0.0.1:1/sw#v=1"]
      permutation-seed-base32: aa
`
	m, err := grid.ParseStaticServers("servers.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	a := m["v0-abc"]
	if a.Nickname != "one" || len(a.NURLs) != 1 || a.PermutationSeed != "aa" {
		t.Errorf("%+v", a)
	}
	for _, bad := range []string{"storage: [", "storage:\n  x: {}\n", "storage:\n  x:\n    ann:\n      anonymous-storage-NURLs: 5\n"} {
		if _, err := grid.ParseStaticServers("s", []byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestBrokerUnsupported(t *testing.T) {
	tg := testgrid.New(t, 1)
	var dialed atomic.Int32
	dial := func(ctx context.Context, nurl string) (lafs.StorageServer, error) {
		dialed.Add(1)
		return tg.Servers[0].Storage, nil
	}
	b := grid.NewBroker(dial, nil, grid.WithCheckEvery(20*time.Millisecond))
	defer b.Close()
	old := grid.Announcement{Nickname: "old", FURL: "pb://x@tcp:h:1/z", Version: "tahoe-lafs/1.17.1", Seqnum: 3}
	err := b.Add("v0-u", old)
	if !errors.Is(err, grid.ErrNoNURL) {
		t.Fatalf("Add without NURLs: %v, want ErrNoNURL", err)
	}
	b.AddUnsupported("v0-u", old, "no NURL")
	b.AddUnsupported("v0-u", grid.Announcement{Nickname: "older", Seqnum: 2}, "stale") // older: ignored
	st := b.States()
	if len(st) != 1 || st[0].ID != "v0-u" || st[0].Connected || st[0].Unsupported != "no NURL" ||
		st[0].Nickname != "old" || st[0].Version != "tahoe-lafs/1.17.1" || st[0].Since.IsZero() {
		t.Fatalf("states: %+v", st)
	}
	var si lafs.StorageIndex
	if got := b.ServersFor(si); len(got) != 0 {
		t.Fatalf("an unsupported server is offered: %+v", got)
	}
	b.MarkFailed("v0-u", errors.New("x"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err = b.WaitConnected(ctx, 1)
	cancel()
	if !errors.Is(err, grid.ErrTimeout) {
		t.Errorf("WaitConnected counts an unsupported server: %v", err)
	}
	if n := dialed.Load(); n != 0 {
		t.Fatalf("an unsupported server was dialled %d times", n)
	}

	// A later announcement with a NURL makes it a usable server.
	if err := b.Add("v0-u", ann("new", "n1", 4)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := b.ServersFor(si); len(got) != 1 || got[0].ID != "v0-u" {
		t.Fatalf("servers: %+v", got)
	}
	if st := b.States(); len(st) != 1 || !st[0].Connected || st[0].Unsupported != "" || st[0].Nickname != "new" {
		t.Fatalf("states: %+v", st)
	}
	// An unsupported record never replaces a usable server of the same
	// or a newer announcement.
	b.AddUnsupported("v0-u", grid.Announcement{Nickname: "same", Seqnum: 4}, "no NURL")
	if st := b.States(); st[0].Unsupported != "" || st[0].Nickname != "new" {
		t.Fatalf("states: %+v", st)
	}
	// A newer one does: the server stopped announcing a NURL.
	b.AddUnsupported("v0-u", grid.Announcement{Nickname: "newer", Seqnum: 5}, "no NURL")
	if st := b.States(); st[0].Unsupported != "no NURL" || st[0].Connected {
		t.Fatalf("states: %+v", st)
	}
	if got := b.ServersFor(si); len(got) != 0 {
		t.Fatalf("a server that became unsupported is still offered: %+v", got)
	}
}
