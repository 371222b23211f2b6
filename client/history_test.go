package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/internal/testgrid"
)

// lastOp returns the newest recent operation of kind.
func lastOp(t *testing.T, c *Client, kind OpKind) OpStatus {
	t.Helper()
	active, recent := c.History().Snapshot()
	if len(active) != 0 {
		t.Errorf("operations still active: %+v", active)
	}
	for _, s := range recent {
		if s.Kind == kind {
			return s
		}
	}
	t.Fatalf("no recent %s among %+v", kind, recent)
	return OpStatus{}
}

func TestHistoryImmutable(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := WithOperationTag(context.Background(), "put-1234")
	data := bytes.Repeat([]byte("history "), 40000)
	res, err := c.Upload(ctx, bytes.NewReader(data), int64(len(data)), UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	up := lastOp(t, c, OpKindUpload)
	si := res.Cap.(*cap.CHK).StorageIndex()
	if !up.HasStorageIndex || up.StorageIndex != si || up.Size != int64(len(data)) || up.Done != up.Size ||
		up.Hashed != up.Size || up.Status != "Finished" || up.Failed || up.Active || up.Tag != "put-1234" ||
		up.Finished.Before(up.Started) || up.Progress() != 1 || up.HashProgress() != 1 {
		t.Errorf("upload = %+v", up)
	}

	f, err := c.OpenFile(context.Background(), res.Cap)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := f.WriteRange(context.Background(), &b, 1000, 5000); err != nil {
		t.Fatal(err)
	}
	down := lastOp(t, c, OpKindDownload)
	if down.StorageIndex != si || !down.HasStorageIndex || down.Size != 5000 || down.Done != 5000 ||
		down.Status != "Finished" || down.Tag != "" || down.ID <= up.ID {
		t.Errorf("download = %+v", down)
	}
	// Reading to the end counts what is left.
	if _, err := f.WriteRange(context.Background(), io.Discard, int64(len(data))-10, -1); err != nil {
		t.Fatal(err)
	}
	if d := lastOp(t, c, OpKindDownload); d.Size != 10 || d.Done != 10 {
		t.Errorf("download of the tail = %+v", d)
	}

	// A LIT file has no storage index.
	if _, err := c.Upload(context.Background(), strings.NewReader("tiny"), 4, UploadOptions{}); err != nil {
		t.Fatal(err)
	}
	if lit := lastOp(t, c, OpKindUpload); lit.HasStorageIndex || lit.Size != 4 || lit.Status != "Finished" {
		t.Errorf("LIT upload = %+v", lit)
	}
}

func TestHistoryFailedDownload(t *testing.T) {
	c, g := newTestClient(t)
	data := bytes.Repeat([]byte("x"), 300000)
	res, err := c.Upload(context.Background(), bytes.NewReader(data), int64(len(data)), UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.OpenFile(context.Background(), res.Cap)
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range g.Faults {
		fl.Set(func(f *testgrid.Faults) { f.Offline = true })
	}
	if _, err := f.WriteRange(context.Background(), io.Discard, 0, -1); err == nil {
		t.Fatal("download with every server offline worked")
	}
	if d := lastOp(t, c, OpKindDownload); !d.Failed || d.Status != "Failed" || d.Done >= d.Size {
		t.Errorf("failed download = %+v", d)
	}
}

// The progress of an upload moves while it runs: hashed first, then
// encoded and pushed; its storage index shows once it is done.
func TestHistoryUploadProgress(t *testing.T) {
	c, g := newTestClient(t)
	for _, f := range g.Faults {
		f.Set(func(f *testgrid.Faults) { f.WriteDelay = 20 * time.Millisecond })
	}
	c.History().now = func() time.Time { return time.Unix(1700000000, 0) }
	data := bytes.Repeat([]byte("progress"), 1<<18) // 2 MiB: 16 segments of 128 KiB
	var wg sync.WaitGroup
	var upErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, upErr = c.Upload(WithOperationTag(context.Background(), "bad tag!"), bytes.NewReader(data), int64(len(data)), UploadOptions{})
	}()
	var seen []OpStatus
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		active, _ := c.History().Snapshot()
		if len(active) == 1 {
			seen = append(seen, active[0])
		} else if len(seen) > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	if upErr != nil {
		t.Fatal(upErr)
	}
	var midway bool
	for i, s := range seen {
		if s.Kind != OpKindUpload || !s.Active || s.HasStorageIndex || s.Tag != "" || s.Size != int64(len(data)) {
			t.Fatalf("active upload %d = %+v", i, s)
		}
		if i > 0 && (s.Done < seen[i-1].Done || s.Hashed < seen[i-1].Hashed) {
			t.Errorf("progress went back: %+v after %+v", s, seen[i-1])
		}
		if s.Done > 0 && s.Hashed != s.Size {
			t.Errorf("encoding before hashing ended: %+v", s)
		}
		if s.Pushed > 0 && s.Done == 0 {
			t.Errorf("pushing before encoding: %+v", s)
		}
		if s.Pushed > 0 && s.Pushed < s.PushTotal {
			midway = true
			if !strings.Contains(s.Status, "ushing") || s.Progress() <= 0 || s.Progress() >= 1 {
				t.Errorf("midway: %+v (progress %v)", s, s.Progress())
			}
		}
	}
	if !midway {
		t.Errorf("never saw the upload midway; saw %d states: %+v", len(seen), seen)
	}
	up := lastOp(t, c, OpKindUpload)
	if !up.HasStorageIndex || !up.Started.Equal(time.Unix(1700000000, 0)) || up.Status != "Finished" ||
		up.PushTotal <= up.Size*10/3 || up.Pushed != up.PushTotal || up.CiphertextProgress() != 1 {
		t.Errorf("finished upload = %+v", up)
	}
}

func TestHistoryMutable(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	k, err := c.CreateMutable(ctx, []byte("version one"), cap.SDMF)
	if err != nil {
		t.Fatal(err)
	}
	si, _ := cap.StorageIndex(k)
	if p := lastOp(t, c, OpKindPublish); p.StorageIndex != si || p.Size != 11 || p.Done != 11 || p.Status != "Finished" {
		t.Errorf("create = %+v", p)
	}
	m, err := c.OpenMutable(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Overwrite(ctx, []byte("version two, longer")); err != nil {
		t.Fatal(err)
	}
	if p := lastOp(t, c, OpKindPublish); p.StorageIndex != si || p.Size != 19 {
		t.Errorf("overwrite = %+v", p)
	}
	if _, err := m.Read(ctx); err != nil {
		t.Fatal(err)
	}
	if r := lastOp(t, c, OpKindRetrieve); r.StorageIndex != si || r.Size != 19 || r.Done != 19 || r.Status != "Finished" {
		t.Errorf("read = %+v", r)
	}
	var b bytes.Buffer
	if _, err := m.WriteRange(ctx, &b, 8, 3); err != nil || b.String() != "two" {
		t.Fatalf("WriteRange: %q, %v", b.String(), err)
	}
	if r := lastOp(t, c, OpKindRetrieve); r.Size != 3 || r.Done != 3 || r.Failed {
		t.Errorf("ranged read = %+v", r)
	}
	if err := m.Modify(ctx, func(old []byte) ([]byte, error) { return append(old, '!'), nil }); err != nil {
		t.Fatal(err)
	}
	if p := lastOp(t, c, OpKindPublish); p.Size != 20 || p.Done != 20 {
		t.Errorf("modify = %+v", p)
	}
	boom := errors.New("boom")
	if err := m.Modify(ctx, func([]byte) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if p := lastOp(t, c, OpKindPublish); !p.Failed || p.Status != "Failed" {
		t.Errorf("failed modify = %+v", p)
	}
}

// Directories' reads and changes are retrieves and publishes of their
// mutable files, known by storage index, never by cap.
func TestHistoryDirectories(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := context.Background()
	d, err := c.CreateDir(ctx, cap.SDMF)
	if err != nil {
		t.Fatal(err)
	}
	si, _ := cap.StorageIndex(d.Cap())
	if p := lastOp(t, c, OpKindPublish); p.StorageIndex != si {
		t.Errorf("mkdir = %+v", p)
	}
	lit, err := cap.Parse("URI:LIT:nbswy3dp")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Set(ctx, "hello", lit, nil, ReplaceAny); err != nil {
		t.Fatal(err)
	}
	if p := lastOp(t, c, OpKindPublish); p.StorageIndex != si || p.Size <= 0 || p.Done != p.Size {
		t.Errorf("link = %+v", p)
	}
	d2, err := c.OpenDir(ctx, d.Cap())
	if err != nil {
		t.Fatal(err)
	}
	entries, err := d2.List(ctx)
	if err != nil || len(entries) != 1 {
		t.Fatalf("List: %v, %v", entries, err)
	}
	if r := lastOp(t, c, OpKindRetrieve); r.StorageIndex != si || r.Size <= 0 {
		t.Errorf("list = %+v", r)
	}
}

// Only so many finished operations of each kind are kept.
func TestHistoryBounded(t *testing.T) {
	h := newHistory()
	ctx := context.Background()
	for i := range 50 {
		h.begin(ctx, OpKindDownload, lafs.StorageIndex{byte(i)}, 1).end(nil)
	}
	open := h.begin(ctx, OpKindUpload, lafs.StorageIndex{}, 5)
	active, recent := h.Snapshot()
	if len(active) != 1 || active[0].ID != open.s.ID {
		t.Errorf("active = %+v", active)
	}
	if len(recent) != recentLimits[OpKindDownload] {
		t.Fatalf("%d recent downloads kept, want %d", len(recent), recentLimits[OpKindDownload])
	}
	if recent[0].StorageIndex[0] != 49 || recent[len(recent)-1].StorageIndex[0] != 40 {
		t.Errorf("kept %v..%v, want the last ten, newest first", recent[0].StorageIndex[0], recent[len(recent)-1].StorageIndex[0])
	}
	open.end(nil)
	open.end(errors.New("again")) // a second end changes nothing
	_, recent = h.Snapshot()
	if recent[0].Kind != OpKindUpload || recent[0].Failed {
		t.Errorf("newest recent = %+v", recent[0])
	}
	// A nil history (and its nil operations) does nothing.
	var none *History
	none.begin(ctx, OpKindUpload, lafs.StorageIndex{}, 1).end(nil)
	if a, r := none.Snapshot(); a != nil || r != nil {
		t.Error("nil history has operations")
	}
}

func TestOperationTag(t *testing.T) {
	for tag, ok := range map[string]bool{
		"put-0123abcd": true, "a.b_c": true, strings.Repeat("x", 64): true,
		"": false, strings.Repeat("x", 65): false, "has space": false, "URI:CHK:x": false, "é": false,
	} {
		got := tagFrom(WithOperationTag(context.Background(), tag))
		if ok && got != tag || !ok && got != "" {
			t.Errorf("tag %q came back as %q", tag, got)
		}
	}
}
