package mem

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/lafs/lafs/backend"
)

func TestMemCapacityAccounting(t *testing.T) {
	ctx := context.Background()
	m := NewWithCapacity(100)
	k := backend.Key{Share: 1}
	st, err := m.Create(ctx, k, 200)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.WriteAt(make([]byte, 60), 0); err != nil {
		t.Fatal(err)
	}
	if avail, _ := m.Available(ctx); avail != 40 {
		t.Fatalf("available %d, want 40", avail)
	}
	if err := st.WriteAt(make([]byte, 60), 60); !errors.Is(err, backend.ErrNoSpace) {
		t.Fatalf("write past capacity: %v, want ErrNoSpace", err)
	}
	if got := m.Used(); got != 60 {
		t.Fatalf("failed write changed usage to %d", got)
	}
	if _, err := m.Size(ctx, k); !errors.Is(err, backend.ErrNotExist) {
		t.Fatalf("staged object visible: %v", err)
	}
	if err := st.Abort(); err != nil {
		t.Fatal(err)
	}
	if got, n := m.Used(), m.NumStaged(); got != 0 || n != 0 {
		t.Fatalf("after abort: used %d, staged %d", got, n)
	}
}

func TestMemStagedCommitAndCopies(t *testing.T) {
	ctx := context.Background()
	m := New()
	k := backend.Key{Share: 3}
	st, _ := m.Create(ctx, k, 10)
	p := []byte("hello")
	if err := st.WriteAt(p, 2); err != nil {
		t.Fatal(err)
	}
	p[0] = 'X' // must not reach the backend
	if err := st.WriteAt([]byte("x"), 10); err == nil {
		t.Fatal("write past staged size accepted")
	}
	if err := st.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	n, err := m.ReadAt(ctx, k, buf, 0)
	if n != 7 || err != io.EOF || !bytes.Equal(buf[:n], []byte("\x00\x00hello")) {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	st2, _ := m.Create(ctx, k, 1)
	_ = st2.WriteAt([]byte("z"), 0)
	if err := st2.Commit(ctx); !errors.Is(err, backend.ErrExist) {
		t.Fatalf("second commit: %v, want ErrExist", err)
	}
	if m.Used() != 7 || m.NumStaged() != 0 {
		t.Fatalf("used %d staged %d after failed commit", m.Used(), m.NumStaged())
	}
	if err := m.Truncate(ctx, k, 3); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteAt(ctx, k, []byte("!"), 5); err != nil {
		t.Fatal(err)
	}
	n, _ = m.ReadAt(ctx, k, buf, 0)
	if !bytes.Equal(buf[:n], []byte("\x00\x00h\x00\x00!")) {
		t.Fatalf("after truncate and extend: %q", buf[:n])
	}
}
