package storagehttp

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/lafs/lafs"
)

// Every decoder of untrusted bytes is fuzzed: it must not panic, must take
// only well-formed CBOR (as another library judges it), and what it takes
// must survive a round trip through our encoder.

func wellFormed(t *testing.T, b []byte) {
	t.Helper()
	if err := cbor.Wellformed(b); err != nil {
		t.Fatalf("took %x, which is not well-formed CBOR: %v", b, err)
	}
}

func seedCBOR(f *testing.F, msgs ...[]byte) {
	for _, m := range msgs {
		f.Add(m)
	}
	f.Add([]byte{})
	f.Add([]byte{0xbf, 0xff})
	f.Add([]byte{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
}

func FuzzDecodeAllocate(f *testing.F) {
	seedCBOR(f, allocateRequest{ShareNumbers: []lafs.ShareNum{1, 7}, AllocatedSize: 48}.encode(),
		allocateRequest{}.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeAllocateRequest(b)
		if err != nil {
			return
		}
		wellFormed(t, b)
		m2, err := decodeAllocateRequest(m.encode())
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip: %+v -> %+v, %v", m, m2, err)
		}
	})
}

func FuzzDecodeReadTestWrite(f *testing.F) {
	nl := uint64(9)
	seedCBOR(f, rtwRequest{
		TestWrite: map[lafs.ShareNum]lafs.TestWriteVectors{
			0: {Test: []lafs.TestVector{{Offset: 1, Size: 2, Specimen: []byte("ab")}}, Write: []lafs.WriteVector{{Offset: 3, Data: []byte("c")}}, NewLength: &nl},
			3: {},
		},
		Read: []lafs.ReadVector{{Offset: 0, Size: 10}},
	}.encode(), rtwRequest{}.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeRTWRequest(b)
		if err != nil {
			return
		}
		wellFormed(t, b)
		m2, err := decodeRTWRequest(m.encode())
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip: %+v -> %+v, %v", m, m2, err)
		}
	})
}

func FuzzDecodeCorrupt(f *testing.F) {
	seedCBOR(f, encodeCorruptRequest("bad hash"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeCorruptRequest(b)
		if err != nil {
			return
		}
		wellFormed(t, b)
		if r2, err := decodeCorruptRequest(encodeCorruptRequest(r)); err != nil || r2 != r {
			t.Fatalf("round trip: %q -> %q, %v", r, r2, err)
		}
	})
}

// FuzzDecodeResponses runs the client's decoders, which are lenient.
func FuzzDecodeResponses(f *testing.F) {
	seedCBOR(f,
		encodeVersion(lafs.ServerVersion{MaximumImmutableShareSize: 1, ApplicationVersion: []byte("x")}),
		encodeAllocateResponse(lafs.AllocateResult{AlreadyHave: []lafs.ShareNum{1}, Allocated: []lafs.ShareNum{2}}),
		encodeWriteResponse([]lafs.ByteRange{{Begin: 1, End: 2}}),
		encodeShareSet([]lafs.ShareNum{1, 2, 3}),
		encodeRTWResponse(lafs.ReadTestWriteResult{Success: true, Data: map[lafs.ShareNum][][]byte{1: {[]byte("x")}}}),
	)
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := decodeVersion(b); err == nil {
			wellFormed(t, b)
			if v2, err := decodeVersion(encodeVersion(v)); err != nil || !reflect.DeepEqual(v, v2) {
				t.Fatalf("version round trip: %+v -> %+v, %v", v, v2, err)
			}
		}
		if a, err := decodeAllocateResponse(b); err == nil {
			wellFormed(t, b)
			if a2, err := decodeAllocateResponse(encodeAllocateResponse(a)); err != nil || !reflect.DeepEqual(a, a2) {
				t.Fatalf("allocate round trip: %+v -> %+v, %v", a, a2, err)
			}
		}
		if r, err := decodeWriteResponse(b); err == nil {
			wellFormed(t, b)
			if r2, err := decodeWriteResponse(encodeWriteResponse(r)); err != nil || !reflect.DeepEqual(r, r2) {
				t.Fatalf("write round trip: %+v -> %+v, %v", r, r2, err)
			}
		}
		if s, err := decodeShareSet(b); err == nil {
			wellFormed(t, b)
			if s2, err := decodeShareSet(encodeShareSet(s)); err != nil || !reflect.DeepEqual(s, s2) {
				t.Fatalf("set round trip: %+v -> %+v, %v", s, s2, err)
			}
		}
		if r, err := decodeRTWResponse(b); err == nil {
			wellFormed(t, b)
			if r2, err := decodeRTWResponse(encodeRTWResponse(r)); err != nil || !reflect.DeepEqual(r, r2) {
				t.Fatalf("rtw round trip: %+v -> %+v, %v", r, r2, err)
			}
		}
	})
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-10", "bytes=5-", "bytes=-5", "BYTES = 1 - 2", "bytes=0-99999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, e, err := parseRange(s)
		if err != nil {
			return
		}
		if b > e || b == e && e != ^uint64(0) {
			t.Fatalf("%q: [%d, %d)", s, b, e)
		}
		if e-b > 0 && b < ^uint64(0)/2 && e < ^uint64(0) {
			if b2, e2, err := parseRange(formatRange(b, e-b)); err != nil || b2 != b || e2 != e {
				t.Fatalf("%q: [%d, %d) -> %q -> [%d, %d) %v", s, b, e, formatRange(b, e-b), b2, e2, err)
			}
		}
	})
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-9/*", "bytes 0-9/10", "bytes */10", " bytes\t1-1/*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, e, err := parseContentRange(s)
		if err != nil {
			return
		}
		if b >= e {
			t.Fatalf("%q: [%d, %d)", s, b, e)
		}
		if b2, e2, err := parseContentRange(formatContentRange(b, e)); err != nil || b2 != b || e2 != e {
			t.Fatalf("%q: round trip %v", s, err)
		}
	})
}

func FuzzExtractSecrets(f *testing.F) {
	f.Add("upload-secret TUFHSUM=", "lease-renew-secret "+strings.Repeat("A", 43)+"=")
	f.Add("write-enabler  x", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, req := range []secretSet{0, setOf(secretUpload), setOf(secretLeaseRenew, secretUpload)} {
			s, err := extractSecrets([]string{a, b}, req)
			if err != nil {
				continue
			}
			for k := range numSecretKinds {
				if (req&(1<<k) != 0) != (s[k] != nil) {
					t.Fatalf("kinds %v, secrets %q", req, s)
				}
			}
		}
	})
}

// FuzzHandler sends arbitrary requests to a Handler over a fake server
// that has some shares: no panic, and only the status codes the protocol
// uses.
func FuzzHandler(f *testing.F) {
	data := bytes.Repeat([]byte("0123456789"), 100)
	s := &fakeServer{
		version: func(context.Context) (lafs.ServerVersion, error) { return lafs.ServerVersion{}, nil },
		allocate: func(context.Context, lafs.StorageIndex, lafs.LeaseSecrets, []byte, []lafs.ShareNum, uint64) (lafs.AllocateResult, error) {
			return lafs.AllocateResult{}, nil
		},
		write: func(_ context.Context, _ lafs.StorageIndex, _ lafs.ShareNum, _ []byte, off uint64, d []byte) (lafs.WriteResult, error) {
			if off+uint64(len(d)) > 1000 || off+uint64(len(d)) < off {
				return lafs.WriteResult{}, lafs.ErrRange
			}
			return lafs.WriteResult{Done: off == 0}, nil
		},
		abort:      func(context.Context, lafs.StorageIndex, lafs.ShareNum, []byte) error { return lafs.ErrNotExist },
		readImm:    shareReader(data, nil),
		readMut:    shareReader(data[:10], nil),
		listImm:    func(context.Context, lafs.StorageIndex) ([]lafs.ShareNum, error) { return []lafs.ShareNum{0}, nil },
		listMut:    func(context.Context, lafs.StorageIndex) ([]lafs.ShareNum, error) { return []lafs.ShareNum{0}, nil },
		corruptImm: func(context.Context, lafs.StorageIndex, lafs.ShareNum, string) error { return nil },
		corruptMut: func(context.Context, lafs.StorageIndex, lafs.ShareNum, string) error { return nil },
		lease:      func(context.Context, lafs.StorageIndex, lafs.LeaseSecrets) error { return nil },
		rtw: func(context.Context, lafs.StorageIndex, lafs.Secret, lafs.LeaseSecrets, map[lafs.ShareNum]lafs.TestWriteVectors, []lafs.ReadVector) (lafs.ReadTestWriteResult, error) {
			return lafs.ReadTestWriteResult{}, nil
		},
	}
	h := Handler(s, []byte(testSwissnum), WithErrorLog(discardLog()))
	auth := swissnumAuth([]byte(testSwissnum))
	f.Add("GET", "/storage/v1/immutable/"+testSIs+"/0", "bytes=0-10", "", "", []byte{})
	f.Add("PATCH", "/storage/v1/immutable/"+testSIs+"/0", "", "bytes 0-3/*", "upload-secret eA==", []byte("abcd"))
	f.Add("POST", "/storage/v1/immutable/"+testSIs, "", "", "upload-secret eA==", allocateRequest{}.encode())
	f.Add("POST", "/storage/v1/mutable/"+testSIs+"/read-test-write", "", "", "write-enabler eA==", rtwRequest{}.encode())
	f.Add("POST", "/storage/v1/mutable/"+testSIs+"/0/corrupt", "", "", "", encodeCorruptRequest("x"))
	ok := map[int]bool{200: true, 201: true, 204: true, 206: true, 400: true, 401: true, 404: true, 405: true,
		406: true, 409: true, 413: true, 415: true, 416: true}
	f.Fuzz(func(t *testing.T, method, path, rng, crange, secret string, body []byte) {
		r, err := http.NewRequest(method, "https://x"+path, bytes.NewReader(body))
		if err != nil {
			return
		}
		r.Header.Set("Authorization", auth)
		if rng != "" {
			r.Header.Set("Range", rng)
		}
		if crange != "" {
			r.Header.Set("Content-Range", crange)
		}
		if secret != "" {
			r.Header.Add(headerSecret, secret)
			r.Header.Add(headerSecret, "lease-renew-secret "+strings.Repeat("A", 43)+"=")
			r.Header.Add(headerSecret, "lease-cancel-secret "+strings.Repeat("B", 43)+"=")
		}
		w := httptest.NewRecorder()
		func() {
			defer func() {
				if p := recover(); p != nil && p != http.ErrAbortHandler {
					t.Fatalf("panic: %v", p)
				}
			}()
			h.ServeHTTP(w, r)
		}()
		if !ok[w.Code] {
			t.Fatalf("%s %s: status %d (%s)", method, path, w.Code, w.Body)
		}
	})
}
