package storagehttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/lafs/lafs"
)

const testSwissnum = "x2bmwqjvkgzt6ck4e3zlwdtb3mvcfmst"

var (
	testSI   = lafs.StorageIndex{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	testSIs  = testSI.String()
	secret32 = bytes.Repeat([]byte{7}, 32)
)

// hreq builds a raw request to a Handler.
type hreq struct {
	method, path string
	body         []byte
	header       http.Header
}

func newReq(method, path string) *hreq {
	return &hreq{method: method, path: path, header: http.Header{
		"Authorization": {swissnumAuth([]byte(testSwissnum))},
	}}
}

func (q *hreq) set(k string, v ...string) *hreq { q.header[http.CanonicalHeaderKey(k)] = v; return q }
func (q *hreq) del(k string) *hreq              { delete(q.header, http.CanonicalHeaderKey(k)); return q }
func (q *hreq) withBody(b []byte) *hreq         { q.body = b; return q }

func (q *hreq) secret(kind string, v []byte) *hreq {
	q.header.Add(headerSecret, kind+" "+base64.StdEncoding.EncodeToString(v))
	return q
}

func (q *hreq) lease() *hreq {
	return q.secret("lease-renew-secret", secret32).secret("lease-cancel-secret", secret32)
}

func (q *hreq) run(t *testing.T, s lafs.StorageServer) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(q.method, q.path, bytes.NewReader(q.body))
	r.Header = q.header
	w := httptest.NewRecorder()
	Handler(s, []byte(testSwissnum)).ServeHTTP(w, r)
	return w
}

func wantCode(t *testing.T, w *httptest.ResponseRecorder, code int) {
	t.Helper()
	if w.Code != code {
		t.Fatalf("status %d, want %d; body %q", w.Code, code, w.Body.String())
	}
}

func wantCBOR(t *testing.T, w *httptest.ResponseRecorder, hexBody string) {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != mediaCBOR {
		t.Errorf("Content-Type %q, want %q", ct, mediaCBOR)
	}
	if got := hex.EncodeToString(w.Body.Bytes()); got != hexBody {
		t.Errorf("body\n %s, want\n %s", got, hexBody)
	}
}

// hx is hex of text for building expected CBOR.
func hx(s string) string { return hex.EncodeToString([]byte(s)) }

func TestRouting(t *testing.T) {
	s := &fakeServer{listImm: func(context.Context, lafs.StorageIndex) ([]lafs.ShareNum, error) { return nil, nil }}
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/storage/v1/immutable/" + testSIs + "/shares", 200},
		{"HEAD", "/storage/v1/immutable/" + testSIs + "/shares", 200},
		{"GET", "/storage/v1/version/", 404},
		{"GET", "/storage/v2/version", 404},
		{"GET", "/", 404},
		{"GET", "/storage/v1/immutable/" + testSIs[:25] + "/shares", 404},
		{"GET", "/storage/v1/immutable/" + testSIs + "a/shares", 404},
		{"GET", "/storage/v1/immutable/" + strings.ToUpper(testSIs) + "/shares", 404},
		// 26 base32 characters with non-zero unused bits decode to no storage index.
		{"GET", "/storage/v1/immutable/" + testSIs[:25] + "b/shares", 404},
		{"GET", "/storage/v1/immutable/" + testSIs + "/shares/", 404},
		{"GET", "/storage/v1/immutable/" + testSIs + "/-1", 404},
		{"GET", "/storage/v1/immutable/" + testSIs + "/1x", 404},
		{"DELETE", "/storage/v1/immutable/" + testSIs + "/shares", 405},
		{"GET", "/storage/v1/immutable/" + testSIs, 405},
		{"POST", "/storage/v1/version", 405},
		{"GET", "/storage/v1/mutable/" + testSIs + "/read-test-write", 405},
	} {
		// No Authorization at all: routing comes first, as in Tahoe.
		w := newReq(c.method, c.path).del("Authorization").run(t, s)
		if c.code == 200 {
			wantCode(t, w, http.StatusUnauthorized)
			w = newReq(c.method, c.path).run(t, s)
		}
		if w.Code != c.code {
			t.Errorf("%s %s: %d, want %d (%s)", c.method, c.path, w.Code, c.code, w.Body)
		}
		if c.code == 405 && w.Header().Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", c.method, c.path)
		}
	}
	w := newReq("PATCH", "/storage/v1/immutable/"+testSIs).run(t, s)
	if got := w.Header().Get("Allow"); got != "POST" {
		t.Errorf("Allow %q", got)
	}
}

func TestAuthorization(t *testing.T) {
	s := &fakeServer{version: func(context.Context) (lafs.ServerVersion, error) { return lafs.ServerVersion{}, nil }}
	path := "/storage/v1/version"
	wantCode(t, newReq("GET", path).run(t, s), 200)
	wantCode(t, newReq("GET", path).del("Authorization").run(t, s), 401)
	wantCode(t, newReq("GET", path).set("Authorization", "").run(t, s), 401)
	wantCode(t, newReq("GET", path).set("Authorization", swissnumAuth([]byte("wrong"))).run(t, s), 401)
	wantCode(t, newReq("GET", path).set("Authorization", swissnumAuth([]byte(testSwissnum))+" ").run(t, s), 401)
	wantCode(t, newReq("GET", path).set("Authorization", "tahoe-lafs "+base64.StdEncoding.EncodeToString([]byte(testSwissnum))).run(t, s), 401)
	// Only the first Authorization counts.
	wantCode(t, newReq("GET", path).set("Authorization", "x", swissnumAuth([]byte(testSwissnum))).run(t, s), 401)
	wantCode(t, newReq("GET", path).set("Authorization", swissnumAuth([]byte(testSwissnum)), "x").run(t, s), 200)
	// Not UTF-8: 400, as Tahoe's test_bad_swissnum_from_client.
	wantCode(t, newReq("GET", path).set("Authorization", "\xff\xfe").run(t, s), 400)
}

func TestSecrets(t *testing.T) {
	var gotUpload []byte
	var gotLease lafs.LeaseSecrets
	s := &fakeServer{
		abort: func(_ context.Context, _ lafs.StorageIndex, _ lafs.ShareNum, upload []byte) error {
			gotUpload = upload
			return nil
		},
		lease: func(_ context.Context, _ lafs.StorageIndex, l lafs.LeaseSecrets) error {
			gotLease = l
			return nil
		},
	}
	abort := "/storage/v1/immutable/" + testSIs + "/3/abort"
	b64 := base64.StdEncoding.EncodeToString
	for _, c := range []struct {
		name   string
		values []string
		code   int
		want   string // the upload secret decoded
	}{
		{"good", []string{"upload-secret " + b64([]byte("MAGIC"))}, 200, "MAGIC"},
		{"padded whitespace", []string{"  upload-secret " + b64([]byte("MAGIC")) + "  "}, 200, "MAGIC"},
		{"python skips junk", []string{"upload-secret TU*FH#SU!M="}, 200, "MAGIC"},
		{"python stops at padding", []string{"upload-secret TQ==garbage"}, 200, "M"},
		{"later value wins", []string{"upload-secret " + b64([]byte("one")), "upload-secret " + b64([]byte("two"))}, 200, "two"},
		{"missing", nil, 400, ""},
		{"no space", []string{"upload-secret"}, 400, ""},
		{"tab", []string{"upload-secret\t" + b64([]byte("MAGIC"))}, 400, ""},
		{"unknown kind", []string{"uploadsecret " + b64([]byte("MAGIC"))}, 400, ""},
		{"empty value", []string{"upload-secret "}, 400, ""},
		{"bad padding", []string{"upload-secret TUFHSUM"}, 400, ""},
		{"one extra char", []string{"upload-secret TUFHS"}, 400, ""},
		{"not ascii", []string{"upload-secret TUFH\xc3\xa9SUM="}, 400, ""},
		{"test_bad_secret", []string{"upload-secret []<>"}, 400, ""},
		{"extra kind", []string{"upload-secret " + b64([]byte("MAGIC")), "lease-renew-secret " + b64(secret32)}, 400, ""},
		{"wrong kind", []string{"lease-renew-secret " + b64(secret32)}, 400, ""},
	} {
		gotUpload = nil
		q := newReq("PUT", abort)
		if c.values != nil {
			q.set(headerSecret, c.values...)
		}
		w := q.run(t, s)
		if w.Code != c.code || string(gotUpload) != c.want {
			t.Errorf("%s: %d %q, want %d %q (%s)", c.name, w.Code, gotUpload, c.code, c.want, w.Body)
		}
	}

	lease := "/storage/v1/lease/" + testSIs
	renew, cancel := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	w := newReq("PUT", lease).secret("lease-cancel-secret", cancel).secret("lease-renew-secret", renew).run(t, s)
	wantCode(t, w, 204)
	if !bytes.Equal(gotLease.Renew[:], renew) || !bytes.Equal(gotLease.Cancel[:], cancel) {
		t.Errorf("lease secrets %x", gotLease)
	}
	for _, n := range []int{1, 31, 33} {
		w := newReq("PUT", lease).secret("lease-renew-secret", make([]byte, n)).secret("lease-cancel-secret", cancel).run(t, s)
		wantCode(t, w, 400)
		w = newReq("PUT", lease).secret("lease-renew-secret", renew).secret("lease-cancel-secret", make([]byte, n)).run(t, s)
		wantCode(t, w, 400)
	}
	wantCode(t, newReq("PUT", lease).secret("lease-renew-secret", renew).run(t, s), 400)
	// Secrets on an endpoint that takes none.
	wantCode(t, newReq("GET", "/storage/v1/immutable/"+testSIs+"/shares").secret("upload-secret", []byte("x")).run(t, s), 400)
}

func TestVersion(t *testing.T) {
	s := &fakeServer{version: func(context.Context) (lafs.ServerVersion, error) {
		return lafs.ServerVersion{MaximumImmutableShareSize: 100, MaximumMutableShareSize: 200, AvailableSpace: 300, ApplicationVersion: []byte("lafs")}, nil
	}}
	w := newReq("GET", "/storage/v1/version").run(t, s)
	wantCode(t, w, 200)
	// Keys are byte strings (major type 2), as Tahoe sends them.
	wantCbor := "a2" + "582f" + hx(versionV1Key) + "a3" +
		"581c" + hx("maximum-immutable-share-size") + "1864" +
		"581a" + hx("maximum-mutable-share-size") + "18c8" +
		"4f" + hx("available-space") + "19012c" +
		"53" + hx("application-version") + "44" + hx("lafs")
	wantCBOR(t, w, wantCbor)

	// The same bytes as a general-purpose CBOR library sees them.
	var m map[any]any
	if err := cbor.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	v1, ok := m[cbor.ByteString(versionV1Key)].(map[any]any)
	if !ok || v1[cbor.ByteString("available-space")] != uint64(300) {
		t.Errorf("decoded %#v", m)
	}
}

func TestAccept(t *testing.T) {
	s := &fakeServer{version: func(context.Context) (lafs.ServerVersion, error) { return lafs.ServerVersion{}, nil }}
	for _, c := range []struct {
		accept []string
		code   int
	}{
		{nil, 200},
		{[]string{"application/cbor"}, 200},
		{[]string{"application/cbor; q=1"}, 200},
		{[]string{"application/cbor, application/json;q=0.5"}, 200},
		{[]string{"application/json;q=0.5, application/cbor"}, 200},
		{[]string{"*/*;q=1, application/cbor;q=0.9"}, 406}, // */* is not "*": it sorts by q
		{[]string{"*/*;q=0.5, application/cbor"}, 200},
		{[]string{"*, application/cbor;q=0.1"}, 200}, // "*" sorts last whatever its q
		{[]string{"application/cbor", "application/json"}, 200},
		{[]string{"application/json", "application/cbor"}, 406},
		{[]string{"*/*"}, 406},
		{[]string{"application/json"}, 406},
		{[]string{"image/gif"}, 406}, // test_unsupported_mime_type
		{[]string{""}, 406},
		{[]string{"application/CBOR"}, 406},
		{[]string{"application/cbor;charset=utf-8"}, 406},
		{[]string{", application/cbor"}, 200},
		{[]string{"application/cbor;q=2"}, 406},
		{[]string{"application/cbor;q=x, application/cbor"}, 200},
	} {
		q := newReq("GET", "/storage/v1/version")
		if c.accept != nil {
			q.set("Accept", c.accept...)
		}
		if w := q.run(t, s); w.Code != c.code {
			t.Errorf("Accept %q: %d, want %d", c.accept, w.Code, c.code)
		}
	}
}

func allocateServer(calls *int) *fakeServer {
	return &fakeServer{allocate: func(_ context.Context, si lafs.StorageIndex, l lafs.LeaseSecrets, up []byte, shares []lafs.ShareNum, size uint64) (lafs.AllocateResult, error) {
		*calls++
		if si != testSI || string(up) != "up" || size != 48 {
			return lafs.AllocateResult{}, fmt.Errorf("fake: bad call %v %q %d", si, up, size)
		}
		var res lafs.AllocateResult
		for _, n := range shares {
			if n == 1 {
				res.AlreadyHave = append(res.AlreadyHave, n)
			} else {
				res.Allocated = append(res.Allocated, n)
			}
		}
		return res, nil
	}}
}

func TestAllocate(t *testing.T) {
	var calls int
	s := allocateServer(&calls)
	path := "/storage/v1/immutable/" + testSIs
	q := func(body string) *hreq {
		b, err := hex.DecodeString(body)
		if err != nil {
			t.Fatal(err)
		}
		return newReq("POST", path).lease().secret("upload-secret", []byte("up")).withBody(b).set("Content-Type", mediaCBOR)
	}
	shares := "6d" + hx("share-numbers")
	size := "6e" + hx("allocated-size") + "1830"
	good := "a2" + shares + "d9010282" + "0107" + size
	w := q(good).run(t, s)
	wantCode(t, w, 200)
	wantCBOR(t, w, "a2"+"6c"+hx("already-have")+"d9010281"+"01"+"69"+hx("allocated")+"d9010281"+"07")

	// Keys in the other order, indefinite lengths, non-minimal integers,
	// duplicates in the set: all well-formed CBOR that Tahoe takes.
	for _, body := range []string{
		"a2" + size + shares + "d9010282" + "0701",
		"bf" + shares + "d901029f" + "0107ff" + size + "ff",
		"a2" + shares + "d9010283" + "190001" + "1807" + "07" + "6e" + hx("allocated-size") + "1b0000000000000030",
		"a2" + "7f" + "6d" + hx("share-numbers") + "ff" + "d9010282" + "0107" + size,
	} {
		calls = 0
		if w := q(body).run(t, s); w.Code != 200 || calls != 1 {
			t.Errorf("%s: %d (%s)", body, w.Code, w.Body)
		}
	}
	// No Content-Type is CBOR too.
	wantCode(t, q(good).del("Content-Type").run(t, s), 200)
	wantCode(t, q(good).set("Content-Type", "application/cbor; charset=binary").run(t, s), 200)

	calls = 0
	for _, body := range []string{
		"",
		"a1" + shares + "d9010281" + "01",    // missing allocated-size
		"a2" + shares + "82" + "0107" + size, // share numbers not tagged as a set
		"a2" + shares + "d9010182" + "0107" + size,                                   // wrong tag
		"a3" + shares + "d9010282" + "0107" + size + "61" + "78" + "00",              // extra key
		"a2" + shares + "d9010282" + "0107" + "6e" + hx("allocated-size") + "20",     // negative
		"a2" + shares + "d9010282" + "0107" + "6e" + hx("allocated-size") + "f93c00", // float
		"a2" + shares + "d9010282" + "0107" + "6e" + hx("allocated-size") + "c24130", // bignum
		"a2" + shares + "d9010282" + "0107" + "6e" + hx("allocated-size") + "c11830", // tagged uint
		"a2" + shares + "d9010281" + "1a00010000" + size,                             // share number 65536
		"a2" + shares + "d90102" + "99" + "0101" + strings.Repeat("01", 257) + size,  // 257 share numbers
		"a2" + shares + "d9010282" + "0107" + size + "00",                            // trailing byte
		"a2" + shares + "d9010282" + "0107" + "4e" + hx("allocated-size") + "1830",   // byte-string key
		"a2" + shares + "d9010282" + "0107" + shares + "d9010280",                    // duplicate key
		"a2" + shares + "d9010282" + "0107" + "6e" + hx("allocated-size") + "1b",     // truncated
		"ff",
		"5b" + "ffffffffffffffff", // a string longer than anything
		"9b" + "ffffffffffffffff", // an array longer than anything
	} {
		w := q(body).run(t, s)
		if w.Code != 400 {
			t.Errorf("%s: %d, want 400 (%s)", body, w.Code, w.Body)
		}
	}
	if calls != 0 {
		t.Errorf("storage server called %d times for bad bodies", calls)
	}
	wantCode(t, q(good).set("Content-Type", "application/json").run(t, s), 415)
	wantCode(t, q(good).set("Content-Type", "Application/CBOR").run(t, s), 415)
	big := "a2" + shares + "d90102" + "80" + "6e" + hx("allocated-size") + "1830" + strings.Repeat("00", 8200)
	wantCode(t, q(big).run(t, s), 413)
	wantCode(t, q(good).set("Accept", "application/json").run(t, s), 406)
	if calls != 0 {
		t.Errorf("storage server called %d times for refused requests", calls)
	}
	wantCode(t, q(good).del(headerSecret).lease().run(t, s), 400)
}

func TestWrite(t *testing.T) {
	var share [26]byte
	var written [26]bool
	s := &fakeServer{
		write: func(_ context.Context, _ lafs.StorageIndex, shnum lafs.ShareNum, up []byte, off uint64, data []byte) (lafs.WriteResult, error) {
			if shnum != 2 {
				return lafs.WriteResult{}, lafs.ErrNotExist
			}
			if string(up) != "up" {
				return lafs.WriteResult{}, lafs.ErrUnauthorized
			}
			if off+uint64(len(data)) > 26 {
				return lafs.WriteResult{}, lafs.ErrRange
			}
			for i, b := range data {
				if written[off+uint64(i)] && share[off+uint64(i)] != b {
					return lafs.WriteResult{}, lafs.ErrConflict
				}
			}
			for i, b := range data {
				share[off+uint64(i)], written[off+uint64(i)] = b, true
			}
			var res lafs.WriteResult
			res.Required = []lafs.ByteRange{}
			for i := 0; i < 26; i++ {
				if !written[i] {
					j := i
					for j < 26 && !written[j] {
						j++
					}
					res.Required = append(res.Required, lafs.ByteRange{Begin: uint64(i), End: uint64(j)})
					i = j
				}
			}
			res.Done = len(res.Required) == 0
			return res, nil
		},
		readImm: func(_ context.Context, _ lafs.StorageIndex, _ lafs.ShareNum, off, n uint64) ([]byte, error) {
			return share[off:min(26, off+n)], nil
		},
	}
	path := "/storage/v1/immutable/" + testSIs + "/2"
	patch := func(cr string, body string) *hreq {
		q := newReq("PATCH", path).secret("upload-secret", []byte("up")).withBody([]byte(body))
		if cr != "" {
			q.set("Content-Range", cr)
		}
		return q
	}
	w := patch("bytes 0-9/*", "abcdefghij").run(t, s)
	wantCode(t, w, 200)
	wantCBOR(t, w, "a1"+"68"+hx("required")+"81"+"a2"+"65"+hx("begin")+"0a"+"63"+hx("end")+"181a")
	w = patch("bytes 20-22/26", "uvw").run(t, s)
	wantCode(t, w, 200)
	wantCBOR(t, w, "a1"+"68"+hx("required")+"82"+"a2"+"65"+hx("begin")+"0a"+"63"+hx("end")+"14"+"a2"+"65"+hx("begin")+"17"+"63"+hx("end")+"181a")

	// Test_upload_bad_content_range, and more.
	for _, cr := range []string{"", "not a valid content-range header at all", "bytes -1-9/10",
		"bytes 0--9/10", "teapots 0-9/10", "Bytes 0-9/*", "bytes 0-9", "bytes */26", "bytes 9-0/*",
		"bytes 5-4/*", "bytes 5-9/5", "bytes 0-99999999999999999999/*"} {
		if w := patch(cr, "0123456789").run(t, s); w.Code != 416 {
			t.Errorf("Content-Range %q: %d, want 416", cr, w.Code)
		}
	}
	// Tolerated forms: white space, a total length (not checked against
	// the range), several headers (the last counts).
	wantCode(t, patch("  bytes   0-2 /*", "abc").run(t, s), 200)
	wantCode(t, patch("bytes 0-2/2", "abc").run(t, s), 200)
	wantCode(t, patch("junk", "abc").set("Content-Range", "junk", "bytes 0-2/*").run(t, s), 200)
	wantCode(t, patch("bytes 0-2/*", "abc").set("Content-Range", "bytes 0-2/*", "junk").run(t, s), 416)
	// Extra body bytes are ignored, as in Tahoe; missing ones are a bad request.
	wantCode(t, patch("bytes 0-2/*", "abcdef").run(t, s), 200)
	wantCode(t, patch("bytes 0-2/*", "ab").run(t, s), 400)

	wantCode(t, patch("bytes 0-2/*", "xyz").run(t, s), 409)
	wantCode(t, patch("bytes 25-26/*", "zz").run(t, s), 416)
	wantCode(t, patch("bytes 0-2/*", "abc").del(headerSecret).secret("upload-secret", []byte("other")).run(t, s), 401)
	wantCode(t, patch("bytes 0-2/*", "abc").del(headerSecret).run(t, s), 400)
	q := patch("bytes 0-2/*", "abc")
	q.path = "/storage/v1/immutable/" + testSIs + "/3"
	wantCode(t, q.run(t, s), 404)
	q.path = "/storage/v1/immutable/" + testSIs + "/99999999999999999999999"
	wantCode(t, q.run(t, s), 404)

	w = patch("bytes 10-19/*", "klmnopqrst").run(t, s)
	wantCode(t, w, 200)
	w = patch("bytes 23-25/*", "xyz").run(t, s)
	wantCode(t, w, 201)
	wantCBOR(t, w, "a1"+"68"+hx("required")+"80")
	if string(share[:]) != "abcdefghijklmnopqrstuvwxyz" {
		t.Errorf("share %q", share)
	}
}

// TestWriteLarge sends a PATCH larger than writeChunk, that completes the
// share in its first piece (the rest was written before): the rest is
// compared with the share, not written again.
func TestWriteLarge(t *testing.T) {
	size := writeChunk + writeChunk/2
	share := make([]byte, size)
	for i := range share {
		share[i] = byte(i * 7)
	}
	have := make([]byte, size)
	var writes int
	s := &fakeServer{
		write: func(_ context.Context, _ lafs.StorageIndex, _ lafs.ShareNum, _ []byte, off uint64, data []byte) (lafs.WriteResult, error) {
			writes++
			if off != 0 || len(data) != writeChunk {
				return lafs.WriteResult{}, fmt.Errorf("fake: write of %d at %d", len(data), off)
			}
			copy(have, data)
			return lafs.WriteResult{Done: true}, nil
		},
		readImm: shareReader(share, nil),
	}
	copy(have[writeChunk:], share[writeChunk:])
	q := newReq("PATCH", "/storage/v1/immutable/"+testSIs+"/0").secret("upload-secret", []byte("up"))
	q.set("Content-Range", formatContentRange(0, uint64(size))).withBody(share)
	wantCode(t, q.run(t, s), 201)
	if writes != 1 || !bytes.Equal(have, share) {
		t.Errorf("%d writes", writes)
	}
	bad := slices.Clone(share)
	bad[size-1]++
	writes = 0
	q.withBody(bad)
	wantCode(t, q.run(t, s), 409)
}

func TestReadRanges(t *testing.T) {
	data := []byte("abcdefghijklmnopqrstuvwxyz")
	shares := map[lafs.ShareNum][]byte{1: data, 2: {}}
	read := func(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, off, n uint64) ([]byte, error) {
		d, ok := shares[shnum]
		if !ok || si != testSI {
			return nil, lafs.ErrNotExist
		}
		return shareReader(d, nil)(ctx, si, shnum, off, n)
	}
	s := &fakeServer{readImm: read, readMut: read}
	for _, kind := range []string{"immutable", "mutable"} {
		path := "/storage/v1/" + kind + "/" + testSIs + "/"
		for _, c := range []struct {
			shnum  string
			rng    []string
			code   int
			crange string
			body   string
		}{
			{"1", nil, 200, "", string(data)},
			{"2", nil, 200, "", ""},
			{"1", []string{"bytes=0-10"}, 206, "bytes 0-10/*", "abcdefghijk"},
			{"1", []string{"bytes=3-17"}, 206, "bytes 3-17/*", "defghijklmnopqr"},
			{"1", []string{"bytes=10-100"}, 206, "bytes 10-25/*", "klmnopqrstuvwxyz"},
			{"1", []string{"bytes=25-25"}, 206, "bytes 25-25/*", "z"},
			{"1", []string{"BYTES = 1 - 2 "}, 206, "bytes 1-2/*", "bc"},
			{"1", []string{"bytes=0-99999999999999999999999"}, 206, "bytes 0-25/*", string(data)},
			{"1", []string{"bytes=26-30"}, 204, "", ""},
			{"1", []string{"bytes=99999999999999999999999-99999999999999999999999"}, 204, "", ""},
			{"2", []string{"bytes=0-10"}, 204, "", ""},
			{"1", []string{"junk", "bytes=0-0"}, 206, "bytes 0-0/*", "a"},
			{"1", []string{"bytes=0-0", "junk"}, 416, "", ""},
			// test_read_with_negative_offset_fails
			{"1", []string{"molluscs=0-9"}, 416, "", ""},
			{"1", []string{"bytes=-2-9"}, 416, "", ""},
			{"1", []string{"bytes=0--10"}, 416, "", ""},
			{"1", []string{"bytes=-300-"}, 416, "", ""},
			{"1", []string{"bytes="}, 416, "", ""},
			{"1", []string{"bytes=0-5, 6-7"}, 416, "", ""},
			{"1", []string{"bytes=0-"}, 416, "", ""},
			{"1", []string{""}, 416, "", ""},
			{"1", []string{"bytes=5-4"}, 416, "", ""},
			{"1", []string{"bytes=+1-4"}, 416, "", ""},
			{"2", []string{"bytes=0-"}, 416, "", ""},
			// A missing share is 404 before the Range is looked at.
			{"3", nil, 404, "", ""},
			{"3", []string{"bytes=0-10"}, 404, "", ""},
			{"3", []string{"bytes=0-"}, 404, "", ""},
			{"70000", []string{"bytes=0-10"}, 404, "", ""},
		} {
			q := newReq("GET", path+c.shnum)
			if c.rng != nil {
				q.set("Range", c.rng...)
			}
			w := q.run(t, s)
			if w.Code != c.code || w.Header().Get("Content-Range") != c.crange {
				t.Errorf("%s %s Range %q: %d %q, want %d %q (%s)", kind, c.shnum, c.rng, w.Code, w.Header().Get("Content-Range"), c.code, c.crange, w.Body)
				continue
			}
			if c.code >= 300 {
				continue
			}
			if w.Body.String() != c.body {
				t.Errorf("%s %s Range %q: body %q, want %q", kind, c.shnum, c.rng, w.Body, c.body)
			}
			if ct := w.Header().Get("Content-Type"); ct != mediaOctetStream {
				t.Errorf("%s %s Range %q: Content-Type %q", kind, c.shnum, c.rng, ct)
			}
		}
	}
}

// TestReadLarge reads a share larger than readChunk: the server streams it
// in pieces, and for a range past its end finds where it ends.
func TestReadLarge(t *testing.T) {
	data := make([]byte, 3*readChunk+12345)
	for i := range data {
		data[i] = byte(i*31 + i>>16)
	}
	var calls int
	s := &fakeServer{readImm: shareReader(data, &calls)}
	path := "/storage/v1/immutable/" + testSIs + "/0"
	for _, c := range []struct {
		rng        string
		begin, end int
		maxCalls   int
	}{
		{"", 0, len(data), 5},
		{"bytes=0-" + fmt.Sprint(len(data)-1), 0, len(data), 5},
		{"bytes=100-" + fmt.Sprint(len(data)+1000), 100, len(data), 40},
		{"bytes=100-99999999999", 100, len(data), 60},
		{"bytes=5-" + fmt.Sprint(2*readChunk), 5, 2*readChunk + 1, 4},
	} {
		calls = 0
		q := newReq("GET", path)
		if c.rng != "" {
			q.set("Range", c.rng)
		}
		w := q.run(t, s)
		if !bytes.Equal(w.Body.Bytes(), data[c.begin:c.end]) {
			t.Errorf("Range %q: %d bytes (status %d), want %d", c.rng, w.Body.Len(), w.Code, c.end-c.begin)
		}
		if c.rng != "" && w.Header().Get("Content-Range") != formatContentRange(uint64(c.begin), uint64(c.end)) {
			t.Errorf("Range %q: Content-Range %q", c.rng, w.Header().Get("Content-Range"))
		}
		if calls > c.maxCalls {
			t.Errorf("Range %q: %d reads", c.rng, calls)
		}
	}
}

func TestAbortCorruptLeaseErrors(t *testing.T) {
	var reasons []string
	s := &fakeServer{
		abort: func(_ context.Context, _ lafs.StorageIndex, n lafs.ShareNum, up []byte) error {
			switch {
			case n == 5:
				return fmt.Errorf("finished: %w", lafs.ErrNotAllowed)
			case n != 1:
				return lafs.ErrNotExist
			case string(up) != "up":
				return lafs.ErrUnauthorized
			}
			return nil
		},
		listImm: func(context.Context, lafs.StorageIndex) ([]lafs.ShareNum, error) { return []lafs.ShareNum{1, 4}, nil },
		listMut: func(context.Context, lafs.StorageIndex) ([]lafs.ShareNum, error) { return []lafs.ShareNum{}, nil },
		corruptImm: func(_ context.Context, _ lafs.StorageIndex, _ lafs.ShareNum, reason string) error {
			reasons = append(reasons, reason)
			return nil
		},
		lease: func(_ context.Context, si lafs.StorageIndex, _ lafs.LeaseSecrets) error {
			return fmt.Errorf("%w: nothing for %s", lafs.ErrNotExist, si)
		},
	}
	abort := func(n int, up string) int {
		return newReq("PUT", fmt.Sprintf("/storage/v1/immutable/%s/%d/abort", testSIs, n)).secret("upload-secret", []byte(up)).run(t, s).Code
	}
	for _, c := range []struct{ got, want int }{
		{abort(1, "up"), 200}, {abort(1, "other"), 401}, {abort(2, "up"), 404}, {abort(5, "up"), 405},
	} {
		if c.got != c.want {
			t.Errorf("abort: %d, want %d", c.got, c.want)
		}
	}
	wantCode(t, newReq("PUT", "/storage/v1/lease/"+testSIs).lease().run(t, s), 404)

	corrupt := func(kind string, n int, body []byte) *httptest.ResponseRecorder {
		return newReq("POST", fmt.Sprintf("/storage/v1/%s/%s/%d/corrupt", kind, testSIs, n)).withBody(body).run(t, s)
	}
	w := corrupt("immutable", 4, encodeCorruptRequest("bad hash"))
	wantCode(t, w, 200)
	if w.Body.Len() != 0 || len(reasons) != 1 || reasons[0] != "bad hash" {
		t.Errorf("body %q, reasons %q", w.Body, reasons)
	}
	// Unknown share: 404 before the body is read.
	wantCode(t, corrupt("immutable", 2, []byte("junk")), 404)
	wantCode(t, corrupt("mutable", 1, []byte("junk")), 404)
	wantCode(t, corrupt("immutable", 4, []byte("junk")), 400)
	wantCode(t, corrupt("immutable", 4, encodeCorruptRequest("")), 400)
	wantCode(t, corrupt("immutable", 4, encodeCorruptRequest(strings.Repeat("é", maxSentReason/2))), 200)
	wantCode(t, corrupt("immutable", 4, encodeCorruptRequest(strings.Repeat("x", maxSentReason))), 200)
	// The schema allows 32765 bytes, but the body limit (32768) does not:
	// Tahoe answers 413 to reasons of 32758 to 32765 bytes.
	wantCode(t, corrupt("immutable", 4, encodeCorruptRequest(strings.Repeat("x", maxSentReason+1))), 413)
	wantCode(t, corrupt("immutable", 4, encodeCorruptRequest(strings.Repeat("x", maxReasonBytes))), 413)
	wantCode(t, corrupt("immutable", 4, append([]byte{0x7a, 0, 0, 0x80, 0}, make([]byte, 32768)...)), 413)
	wantCode(t, corrupt("immutable", 4, []byte{0xa1, 0x66, 'r', 'e', 'a', 's', 'o', 'n', 0x62, 0xff, 0xfe}), 400)
}

func TestReadTestWrite(t *testing.T) {
	we := lafs.Secret{9, 9, 9}
	var got rtwRequest
	s := &fakeServer{rtw: func(_ context.Context, si lafs.StorageIndex, w lafs.Secret, l lafs.LeaseSecrets, tw map[lafs.ShareNum]lafs.TestWriteVectors, read []lafs.ReadVector) (lafs.ReadTestWriteResult, error) {
		if w != we {
			return lafs.ReadTestWriteResult{}, fmt.Errorf("%w: write enabler", lafs.ErrUnauthorized)
		}
		got = rtwRequest{tw, read}
		return lafs.ReadTestWriteResult{Success: true, Data: map[lafs.ShareNum][][]byte{3: {[]byte("ab"), {}}, 0: {}}}, nil
	}}
	nl := uint64(10)
	req := rtwRequest{
		TestWrite: map[lafs.ShareNum]lafs.TestWriteVectors{
			3: {Test: []lafs.TestVector{{Offset: 0, Size: 1, Specimen: []byte{}}}, Write: []lafs.WriteVector{{Offset: 0, Data: []byte("xxxxxxxxxx")}}, NewLength: &nl},
			0: {Test: []lafs.TestVector{}, Write: []lafs.WriteVector{}},
		},
		Read: []lafs.ReadVector{{Offset: 1, Size: 2}},
	}
	path := "/storage/v1/mutable/" + testSIs + "/read-test-write"
	q := func(we lafs.Secret, body []byte) *hreq {
		return newReq("POST", path).lease().secret("write-enabler", we[:]).withBody(body)
	}
	w := q(we, req.encode()).run(t, s)
	wantCode(t, w, 200)
	wantCBOR(t, w, "a2"+"67"+hx("success")+"f5"+"64"+hx("data")+"a2"+"0080"+"03"+"82"+"42"+hx("ab")+"40")
	if !reflect.DeepEqual(got, req) {
		t.Errorf("storage server got\n %v, want\n %v", got, req)
	}
	wantCode(t, q(lafs.Secret{1}, req.encode()).run(t, s), 401)
	wantCode(t, newReq("POST", path).lease().secret("write-enabler", []byte("short")).withBody(req.encode()).run(t, s), 400)
	wantCode(t, newReq("POST", path).lease().withBody(req.encode()).run(t, s), 400)
	wantCode(t, q(we, req.encode()[1:]).run(t, s), 400)

	h := Handler(s, []byte(testSwissnum), WithMaxMutableBody(64))
	r := httptest.NewRequest("POST", path, bytes.NewReader(append(req.encode(), make([]byte, 64)...)))
	r.Header = q(we, nil).header
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	wantCode(t, rec, 413)
}

func TestInternalErrorHidden(t *testing.T) {
	s := &fakeServer{}
	w := newReq("GET", "/storage/v1/version").run(t, s)
	wantCode(t, w, 500)
	if strings.Contains(w.Body.String(), errUnimplemented.Error()) {
		t.Errorf("500 body shows the internal error: %q", w.Body)
	}
}
