package storagehttp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/disk"
	"github.com/lafs/lafs/storage"
)

// rawGet sends GET path with the swissnum to the server at n, skipping the
// pin (the test knows whom it talks to), and returns the status and body.
func rawGet(t *testing.T, n NURL, path string, header map[string]string) (int, string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet,
		"https://"+net.JoinHostPort(n.Host, strconv.Itoa(n.Port))+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", swissnumAuth([]byte(testSwissnum)))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestShareErrorsOverHTTPS serves a storage.Server over a disk folder
// through real HTTPS and damages its containers as the fault run did: a
// missing share is 404 and a corrupt container 410, each body naming the
// share (storage index, number, kind) and never a path, and the client
// turns each status back into its lafs sentinel.
func TestShareErrorsOverHTTPS(t *testing.T) {
	dir := t.TempDir()
	d, err := disk.Open(filepath.Join(dir, "storage"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	srv, err := storage.New(d, storage.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	n := serveTLS(t, Handler(srv, []byte(testSwissnum), WithErrorLog(discardLog())), newTestCert(t, "a"), testSwissnum)
	c := dialTest(t, n)
	ctx := t.Context()

	// Immutable shares 0..4 of imm, mutable shares 0..4 of mut, each
	// with 1000 bytes of data.
	data := []byte(strings.Repeat("0123456789", 100))
	imm, mut := lafs.StorageIndex{0xa1}, lafs.StorageIndex{0xa2}
	lease := lafs.LeaseSecrets{Renew: lafs.Secret{1}, Cancel: lafs.Secret{2}}
	we := lafs.Secret{3}
	upload := []byte("upload secret for the test")
	shares := []lafs.ShareNum{0, 1, 2, 3, 4}
	if res, err := c.AllocateBuckets(ctx, imm, lease, upload, shares, uint64(len(data))); err != nil || len(res.Allocated) != len(shares) {
		t.Fatalf("allocate: %+v, %v", res, err)
	}
	tw := map[lafs.ShareNum]lafs.TestWriteVectors{}
	for _, sh := range shares {
		if _, err := c.WriteImmutable(ctx, imm, sh, upload, 0, data); err != nil {
			t.Fatal(err)
		}
		tw[sh] = lafs.TestWriteVectors{Write: []lafs.WriteVector{{Offset: 0, Data: data}}}
	}
	if res, err := c.ReadTestWrite(ctx, mut, we, lease, tw, nil); err != nil || !res.Success {
		t.Fatalf("mutable write: %+v, %v", res, err)
	}

	// The fault run's damage: immutable containers truncated to 0, 11,
	// 12 and 40 bytes (it had 404, 404, 500, 500), one to 100 (served
	// short), and a mutable one cut inside its header and one inside its
	// data; a folder where a share should be.
	for sh, size := range map[lafs.ShareNum]int64{0: 0, 1: 11, 2: 12, 3: 40, 4: 100} {
		if err := d.Truncate(ctx, backend.Key{SI: imm, Share: sh}, size); err != nil {
			t.Fatal(err)
		}
	}
	for sh, size := range map[lafs.ShareNum]int64{1: 50, 2: 1000} {
		if err := d.Truncate(ctx, backend.Key{SI: mut, Share: sh}, size); err != nil {
			t.Fatal(err)
		}
	}
	folder := filepath.Join(dir, "storage", "shares", imm.String()[:2], imm.String(), "9")
	if err := os.Mkdir(folder, 0o700); err != nil {
		t.Fatal(err)
	}

	name := func(kind string, si lafs.StorageIndex, sh lafs.ShareNum) string {
		return fmt.Sprintf("%sshare %d of storage index %v", kind, sh, si)
	}
	corruptImm := func(sh lafs.ShareNum) string { return name("", imm, sh) + ": share container is corrupt" }
	for _, tc := range []struct {
		what string
		call func() error
		code int
		says string
	}{
		{"read a missing immutable share", func() error { _, err := c.ReadImmutable(ctx, imm, 7, 0, 10); return err },
			404, "no " + name("immutable ", imm, 7)},
		{"read a missing mutable share", func() error { _, err := c.ReadMutable(ctx, mut, 7, 0, 10); return err },
			404, "no " + name("mutable ", mut, 7)},
		{"read a mutable share as immutable", func() error { _, err := c.ReadImmutable(ctx, mut, 0, 0, 10); return err },
			404, "no " + name("immutable ", mut, 0)},
		{"read a folder in a share's place", func() error { _, err := c.ReadImmutable(ctx, imm, 9, 0, 10); return err },
			404, "no " + name("immutable ", imm, 9)},
		{"read an immutable container truncated to 0", func() error { _, err := c.ReadImmutable(ctx, imm, 0, 0, 10); return err },
			410, corruptImm(0) + ": the file holds 0 bytes"},
		{"read an immutable container truncated to 11", func() error { _, err := c.ReadImmutable(ctx, imm, 1, 0, 10); return err },
			410, corruptImm(1) + ": the file holds 11 bytes"},
		{"read an immutable container truncated to 12", func() error { _, err := c.ReadImmutable(ctx, imm, 2, 0, 10); return err },
			410, "immutable " + corruptImm(2) + ": header says 1000 bytes of share data and 1 lease (1084 bytes in all), the file holds 12"},
		{"read an immutable container truncated to 40", func() error { _, err := c.ReadImmutable(ctx, imm, 3, 0, 10); return err },
			410, "immutable " + corruptImm(3) + ": header says 1000 bytes of share data and 1 lease (1084 bytes in all), the file holds 40"},
		{"read an immutable container truncated to 100", func() error { _, err := c.ReadImmutable(ctx, imm, 4, 0, 10); return err },
			410, "immutable " + corruptImm(4) + ": header says 1000 bytes of share data and 1 lease (1084 bytes in all), the file holds 100"},
		{"read a mutable container cut in its header", func() error { _, err := c.ReadMutable(ctx, mut, 1, 0, 10); return err },
			410, name("mutable ", mut, 1) + ": share container is corrupt: 50 bytes, less than the 100-byte mutable container header"},
		{"read a mutable container cut in its data", func() error { _, err := c.ReadMutable(ctx, mut, 2, 0, 10); return err },
			410, name("mutable ", mut, 2) + ": share container is corrupt: header says the data area ends at byte 1468"},
		{"write a corrupt mutable share", func() error {
			_, err := c.ReadTestWrite(ctx, mut, we, lease, map[lafs.ShareNum]lafs.TestWriteVectors{
				2: {Write: []lafs.WriteVector{{Offset: 0, Data: []byte("x")}}},
			}, nil)
			return err
		}, 410, name("mutable ", mut, 2) + ": share container is corrupt"},
		{"renew the leases of corrupt shares only", func() error {
			return c.AddOrRenewLease(ctx, lafs.StorageIndex{0xa1}, lafs.LeaseSecrets{Renew: lafs.Secret{7}})
		}, 410, "share container is corrupt"},
	} {
		err := tc.call()
		var se *StatusError
		if !errors.As(err, &se) {
			t.Errorf("%s: %v, want a StatusError", tc.what, err)
			continue
		}
		if se.Code != tc.code || !strings.Contains(se.Message, tc.says) {
			t.Errorf("%s: %d %q\nwant %d saying %q", tc.what, se.Code, se.Message, tc.code, tc.says)
		}
		if strings.Contains(err.Error(), dir) {
			t.Errorf("%s: the answer names a path: %v", tc.what, err)
		}
		want := lafs.ErrNotExist
		if tc.code == 410 {
			want = lafs.ErrCorruptContainer
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: client's error %v is not %v", tc.what, err, want)
		}
	}

	// The sound shares still work beside the corrupt ones.
	if got, err := c.ReadMutable(ctx, mut, 0, 0, 2000); err != nil || string(got) != string(data) {
		t.Errorf("read of a sound mutable share: %v", err)
	}
	if res, err := c.ReadTestWrite(ctx, mut, we, lease, map[lafs.ShareNum]lafs.TestWriteVectors{
		0: {Write: []lafs.WriteVector{{Offset: 0, Data: []byte("x")}}},
	}, nil); err != nil || !res.Success {
		t.Errorf("write of a sound mutable share beside corrupt ones: %+v, %v", res, err)
	}
	if err := c.AddOrRenewLease(ctx, mut, lafs.LeaseSecrets{Renew: lafs.Secret{8}}); err != nil {
		t.Errorf("lease renewal with sound shares among corrupt ones: %v", err)
	}
	if res, err := c.AllocateBuckets(ctx, imm, lease, []byte("another"), shares, uint64(len(data))); err != nil ||
		len(res.AlreadyHave) != 0 || len(res.Allocated) != 0 {
		t.Errorf("allocate over corrupt shares: %+v, %v; want them neither held nor allocated", res, err)
	}

	// Raw answers, with and without a Range, and a Range the server does
	// not take: the same statuses, no path in any body.
	for _, tc := range []struct {
		path   string
		header map[string]string
		code   int
		says   string
	}{
		{"/storage/v1/immutable/" + imm.String() + "/3", nil, 410, "immutable " + corruptImm(3)},
		{"/storage/v1/immutable/" + imm.String() + "/3", map[string]string{"Range": "bytes=0-10"}, 410, "immutable " + corruptImm(3)},
		{"/storage/v1/immutable/" + imm.String() + "/3", map[string]string{"Range": "bytes=abc"}, 410, "immutable " + corruptImm(3)},
		{"/storage/v1/immutable/" + imm.String() + "/7", nil, 404, "no " + name("immutable ", imm, 7)},
		{"/storage/v1/immutable/" + imm.String() + "/9", nil, 404, "no " + name("immutable ", imm, 9)},
		{"/storage/v1/mutable/" + mut.String() + "/7", map[string]string{"Range": "bytes=0-10"}, 404, "no " + name("mutable ", mut, 7)},
		{"/storage/v1/mutable/" + mut.String() + "/1", nil, 410, name("mutable ", mut, 1)},
		{"/storage/v1/immutable/" + imm.String() + "/shares", nil, 200, ""},
	} {
		code, body := rawGet(t, n, tc.path, tc.header)
		if code != tc.code || !strings.Contains(body, tc.says) {
			t.Errorf("GET %s %v: %d %q, want %d saying %q", tc.path, tc.header, code, body, tc.code, tc.says)
		}
		if strings.Contains(body, dir) || strings.Contains(body, "/storage/shares") {
			t.Errorf("GET %s: the body names a path: %q", tc.path, body)
		}
	}

	if got := srv.Stats().CorruptContainers; got != 7 {
		t.Errorf("the server counts %d corrupt containers, want 7 (5 immutable, 2 mutable)", got)
	}
}
