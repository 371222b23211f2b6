package storagehttp

import (
	"bytes"
	"math"
	"reflect"
	"slices"
	"testing"

	fx "github.com/fxamacker/cbor/v2"

	"github.com/lafs/lafs"
)

// The storage protocol's CBOR is package cbor's; fxamacker/cbor, a
// general-purpose library, is the reference it is fuzzed against here
// (FuzzWireAgrees): decoding the schemas' shapes into Go structs, it must
// find the same values in whatever our decoders take (our request
// decoders take only what the schema allows, so the reference takes all
// of it; our response decoders skip keys of any type, which the reference
// refuses, so there the values are compared only where both take the
// bytes); and our encoders must write the same bytes as it does for the
// same values, fields in Tahoe's order.

var (
	refDec fx.DecMode // text keys, exactly matched, each once
	refBin fx.DecMode // the version message's byte-string keys
	refEnc fx.EncMode // struct fields in order, shortest forms
)

func init() {
	opts := fx.DecOptions{
		DupMapKey:         fx.DupMapKeyEnforcedAPF,
		FieldNameMatching: fx.FieldNameMatchingCaseSensitive,
		IndefLength:       fx.IndefLengthAllowed,
		UTF8:              fx.UTF8RejectInvalid,
		MaxNestedLevels:   64,
		MaxArrayElements:  math.MaxInt32,
		MaxMapPairs:       math.MaxInt32,
	}
	var err error
	if refDec, err = opts.DecMode(); err != nil {
		panic(err)
	}
	opts.FieldNameByteString = fx.FieldNameByteStringAllowed
	if refBin, err = opts.DecMode(); err != nil {
		panic(err)
	}
	if refEnc, err = (fx.EncOptions{ShortestFloat: fx.ShortestFloat16}).EncMode(); err != nil {
		panic(err)
	}
}

// The schemas as structs, for the reference.
type (
	refAllocateRequest struct {
		ShareNumbers  fx.Tag `cbor:"share-numbers"`
		AllocatedSize uint64 `cbor:"allocated-size"`
	}
	refAllocateRequestIn struct {
		ShareNumbers  []uint16 `cbor:"share-numbers"`
		AllocatedSize uint64   `cbor:"allocated-size"`
	}
	refAllocateResponse struct {
		AlreadyHave fx.Tag `cbor:"already-have"`
		Allocated   fx.Tag `cbor:"allocated"`
	}
	refAllocateResponseIn struct {
		AlreadyHave []uint16 `cbor:"already-have"`
		Allocated   []uint16 `cbor:"allocated"`
	}
	refRange struct {
		Begin uint64 `cbor:"begin"`
		End   uint64 `cbor:"end"`
	}
	refWriteResponse struct {
		Required []refRange `cbor:"required"`
	}
	refCorrupt struct {
		Reason string `cbor:"reason"`
	}
	refTestVector struct {
		Offset   uint64 `cbor:"offset"`
		Size     uint64 `cbor:"size"`
		Specimen []byte `cbor:"specimen"`
	}
	refWriteVector struct {
		Offset uint64 `cbor:"offset"`
		Data   []byte `cbor:"data"`
	}
	refTestWrite struct {
		Test      []refTestVector  `cbor:"test"`
		Write     []refWriteVector `cbor:"write"`
		NewLength *uint64          `cbor:"new-length"`
	}
	refReadVector struct {
		Offset uint64 `cbor:"offset"`
		Size   uint64 `cbor:"size"`
	}
	refRTWRequest struct {
		TestWrite map[uint16]refTestWrite `cbor:"test-write-vectors"`
		Read      []refReadVector         `cbor:"read-vector"`
	}
	refRTWResponse struct {
		Success bool                `cbor:"success"`
		Data    map[uint16][][]byte `cbor:"data"`
	}
	refVersion struct {
		V1  refVersionV1 `cbor:"http://allmydata.org/tahoe/protocols/storage/v1"`
		App []byte       `cbor:"application-version"`
	}
	refVersionV1 struct {
		MaxImm    uint64 `cbor:"maximum-immutable-share-size"`
		MaxMut    uint64 `cbor:"maximum-mutable-share-size"`
		Available uint64 `cbor:"available-space"`
	}
)

// Normal forms: sets sorted and without duplicates, nil slices and maps
// empty, as our decoders return them.

func normSet[T ~uint16](s []T) []lafs.ShareNum {
	out := []lafs.ShareNum{}
	for _, n := range s {
		out = append(out, lafs.ShareNum(n))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func normTW(tw lafs.TestWriteVectors) lafs.TestWriteVectors {
	out := lafs.TestWriteVectors{Test: []lafs.TestVector{}, Write: []lafs.WriteVector{}, NewLength: tw.NewLength}
	for _, t := range tw.Test {
		out.Test = append(out.Test, lafs.TestVector{Offset: t.Offset, Size: t.Size, Specimen: nonNil(t.Specimen)})
	}
	for _, w := range tw.Write {
		out.Write = append(out.Write, lafs.WriteVector{Offset: w.Offset, Data: nonNil(w.Data)})
	}
	return out
}

func normRTW(m rtwRequest) rtwRequest {
	out := rtwRequest{TestWrite: map[lafs.ShareNum]lafs.TestWriteVectors{}, Read: append([]lafs.ReadVector{}, m.Read...)}
	for n, tw := range m.TestWrite {
		out.TestWrite[n] = normTW(tw)
	}
	return out
}

func normRTWResult(r lafs.ReadTestWriteResult) lafs.ReadTestWriteResult {
	out := lafs.ReadTestWriteResult{Success: r.Success, Data: map[lafs.ShareNum][][]byte{}}
	for n, reads := range r.Data {
		o := [][]byte{}
		for _, d := range reads {
			o = append(o, nonNil(d))
		}
		out.Data[n] = o
	}
	return out
}

// The reference decoders, into our types.

func refDecodeAllocateRequest(b []byte) (allocateRequest, error) {
	var r refAllocateRequestIn
	err := refDec.Unmarshal(b, &r)
	return allocateRequest{ShareNumbers: normSet(r.ShareNumbers), AllocatedSize: r.AllocatedSize}, err
}

func refDecodeRTWRequest(b []byte) (rtwRequest, error) {
	var r refRTWRequest
	if err := refDec.Unmarshal(b, &r); err != nil {
		return rtwRequest{}, err
	}
	m := rtwRequest{TestWrite: map[lafs.ShareNum]lafs.TestWriteVectors{}}
	for n, tw := range r.TestWrite {
		var t lafs.TestWriteVectors
		for _, v := range tw.Test {
			t.Test = append(t.Test, lafs.TestVector{Offset: v.Offset, Size: v.Size, Specimen: v.Specimen})
		}
		for _, v := range tw.Write {
			t.Write = append(t.Write, lafs.WriteVector{Offset: v.Offset, Data: v.Data})
		}
		t.NewLength = tw.NewLength
		m.TestWrite[lafs.ShareNum(n)] = t
	}
	for _, v := range r.Read {
		m.Read = append(m.Read, lafs.ReadVector{Offset: v.Offset, Size: v.Size})
	}
	return normRTW(m), nil
}

func refDecodeCorrupt(b []byte) (string, error) {
	var r refCorrupt
	err := refDec.Unmarshal(b, &r)
	return r.Reason, err
}

func refDecodeAllocateResponse(b []byte) (lafs.AllocateResult, error) {
	var r refAllocateResponseIn
	err := refDec.Unmarshal(b, &r)
	return lafs.AllocateResult{AlreadyHave: normSet(r.AlreadyHave), Allocated: normSet(r.Allocated)}, err
}

func refDecodeWriteResponse(b []byte) ([]lafs.ByteRange, error) {
	var r refWriteResponse
	err := refDec.Unmarshal(b, &r)
	out := []lafs.ByteRange{}
	for _, rg := range r.Required {
		out = append(out, lafs.ByteRange{Begin: rg.Begin, End: rg.End})
	}
	return out, err
}

func refDecodeShareSet(b []byte) ([]lafs.ShareNum, error) {
	var r []uint16
	err := refDec.Unmarshal(b, &r)
	return normSet(r), err
}

func refDecodeRTWResponse(b []byte) (lafs.ReadTestWriteResult, error) {
	var r refRTWResponse
	err := refDec.Unmarshal(b, &r)
	res := lafs.ReadTestWriteResult{Success: r.Success, Data: map[lafs.ShareNum][][]byte{}}
	for n, d := range r.Data {
		res.Data[lafs.ShareNum(n)] = d
	}
	return normRTWResult(res), err
}

func refDecodeVersion(b []byte) (lafs.ServerVersion, error) {
	var r refVersion
	err := refBin.Unmarshal(b, &r)
	return lafs.ServerVersion{MaximumImmutableShareSize: r.V1.MaxImm, MaximumMutableShareSize: r.V1.MaxMut,
		AvailableSpace: r.V1.Available, ApplicationVersion: nonNil(r.App)}, err
}

func refEncode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := refEnc.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tagSet(s []lafs.ShareNum) fx.Tag {
	c := []uint64{}
	for _, n := range normSet(s) {
		c = append(c, uint64(n))
	}
	return fx.Tag{Number: 258, Content: c}
}

// compare runs our decoder and the reference on b. Where both take b, the
// values must be equal (after norm); where strict, what ours takes the
// reference must take. It returns our value and whether ours took b.
func compare[T any](t *testing.T, name string, b []byte, strict bool, ours, ref func([]byte) (T, error), norm func(T) T) (T, bool) {
	t.Helper()
	got, err := ours(b)
	want, refErr := ref(b)
	if err != nil {
		return got, false
	}
	if refErr != nil {
		if strict {
			t.Fatalf("%s: took %x as %+v, which the reference refuses: %v", name, b, got, refErr)
		}
		return got, true
	}
	if !reflect.DeepEqual(norm(got), norm(want)) {
		t.Fatalf("%s: %x:\n ours      %+v\n reference %+v", name, b, norm(got), norm(want))
	}
	return got, true
}

func sameBytes(t *testing.T, name string, ours, ref []byte) {
	t.Helper()
	if !bytes.Equal(ours, ref) {
		t.Fatalf("%s: wrote\n %x, the reference\n %x", name, ours, ref)
	}
}

// FuzzWireAgrees compares every decoder and encoder of wire.go with the
// reference on the same bytes.
func FuzzWireAgrees(f *testing.F) {
	nl := uint64(9)
	seedCBOR(f,
		allocateRequest{ShareNumbers: []lafs.ShareNum{1, 7}, AllocatedSize: 48}.encode(),
		rtwRequest{
			TestWrite: map[lafs.ShareNum]lafs.TestWriteVectors{
				0: {Test: []lafs.TestVector{{Offset: 1, Size: 2, Specimen: []byte("ab")}}, Write: []lafs.WriteVector{{Offset: 3, Data: []byte("c")}}, NewLength: &nl},
				3: {},
			},
			Read: []lafs.ReadVector{{Offset: 0, Size: 10}},
		}.encode(),
		encodeCorruptRequest("bad hash"),
		encodeVersion(lafs.ServerVersion{MaximumImmutableShareSize: 1, ApplicationVersion: []byte("x")}),
		encodeAllocateResponse(lafs.AllocateResult{AlreadyHave: []lafs.ShareNum{1}, Allocated: []lafs.ShareNum{2}}),
		encodeWriteResponse([]lafs.ByteRange{{Begin: 1, End: 2}}),
		encodeShareSet([]lafs.ShareNum{1, 2, 3}),
		encodeRTWResponse(lafs.ReadTestWriteResult{Success: true, Data: map[lafs.ShareNum][][]byte{1: {[]byte("x")}}}),
	)
	normAlloc := func(m allocateRequest) allocateRequest {
		m.ShareNumbers = normSet(m.ShareNumbers)
		return m
	}
	normRes := func(r lafs.AllocateResult) lafs.AllocateResult {
		return lafs.AllocateResult{AlreadyHave: normSet(r.AlreadyHave), Allocated: normSet(r.Allocated)}
	}
	normRanges := func(r []lafs.ByteRange) []lafs.ByteRange { return append([]lafs.ByteRange{}, r...) }
	normVersion := func(v lafs.ServerVersion) lafs.ServerVersion {
		v.ApplicationVersion = nonNil(v.ApplicationVersion)
		return v
	}
	same := func(s string) string { return s }
	f.Fuzz(func(t *testing.T, b []byte) {
		// Requests, which the server decodes strictly.
		if m, ok := compare(t, "allocate", b, true, decodeAllocateRequest, refDecodeAllocateRequest, normAlloc); ok {
			sameBytes(t, "allocate", m.encode(), refEncode(t, refAllocateRequest{tagSet(m.ShareNumbers), m.AllocatedSize}))
		}
		if m, ok := compare(t, "read-test-write", b, true, decodeRTWRequest, refDecodeRTWRequest, normRTW); ok {
			if back, err := refDecodeRTWRequest(m.encode()); err != nil || !reflect.DeepEqual(back, normRTW(m)) {
				t.Fatalf("read-test-write: the reference reads our %x as %+v, %v", m.encode(), back, err)
			}
		}
		if r, ok := compare(t, "corrupt", b, true, decodeCorruptRequest, refDecodeCorrupt, same); ok {
			sameBytes(t, "corrupt", encodeCorruptRequest(r), refEncode(t, refCorrupt{r}))
		}
		// Responses, which the client decodes leniently.
		if r, ok := compare(t, "allocate answer", b, false, decodeAllocateResponse, refDecodeAllocateResponse, normRes); ok {
			sameBytes(t, "allocate answer", encodeAllocateResponse(r), refEncode(t, refAllocateResponse{tagSet(r.AlreadyHave), tagSet(r.Allocated)}))
		}
		if r, ok := compare(t, "write answer", b, false, decodeWriteResponse, refDecodeWriteResponse, normRanges); ok {
			req := []refRange{}
			for _, rg := range r {
				req = append(req, refRange{rg.Begin, rg.End})
			}
			sameBytes(t, "write answer", encodeWriteResponse(r), refEncode(t, refWriteResponse{req}))
		}
		if s, ok := compare(t, "shares", b, false, decodeShareSet, refDecodeShareSet, normSet[lafs.ShareNum]); ok {
			sameBytes(t, "shares", encodeShareSet(s), refEncode(t, tagSet(s)))
		}
		if r, ok := compare(t, "read-test-write answer", b, false, decodeRTWResponse, refDecodeRTWResponse, normRTWResult); ok {
			if back, err := refDecodeRTWResponse(encodeRTWResponse(r)); err != nil || !reflect.DeepEqual(back, normRTWResult(r)) {
				t.Fatalf("read-test-write answer: the reference reads ours as %+v, %v", back, err)
			}
		}
		if v, ok := compare(t, "version", b, false, decodeVersion, refDecodeVersion, normVersion); ok {
			if back, err := refDecodeVersion(encodeVersion(v)); err != nil || !reflect.DeepEqual(back, normVersion(v)) {
				t.Fatalf("version: the reference reads ours as %+v, %v", back, err)
			}
		}
	})
}

// BenchmarkCodecs decodes and encodes a typical mutable write (two
// shares, a test vector, a 64 KiB write) and an allocation, with ours
// and with the reference.
func BenchmarkCodecs(b *testing.B) {
	nl := uint64(1 << 16)
	rtw := rtwRequest{
		TestWrite: map[lafs.ShareNum]lafs.TestWriteVectors{
			0: {Test: []lafs.TestVector{{Offset: 0, Size: 1, Specimen: []byte{0}}}, Write: []lafs.WriteVector{{Offset: 0, Data: make([]byte, 1<<16)}}, NewLength: &nl},
			1: {Test: []lafs.TestVector{{Offset: 0, Size: 1, Specimen: []byte{0}}}, Write: []lafs.WriteVector{{Offset: 0, Data: make([]byte, 1<<16)}}, NewLength: &nl},
		},
		Read: []lafs.ReadVector{{Offset: 0, Size: 100}},
	}
	rtwBytes := rtw.encode()
	alloc := allocateRequest{ShareNumbers: []lafs.ShareNum{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, AllocatedSize: 1 << 20}
	allocBytes := alloc.encode()
	for _, c := range []struct {
		name string
		f    func() error
	}{
		{"decode-rtw/ours", func() error { _, err := decodeRTWRequest(rtwBytes); return err }},
		{"decode-rtw/reference", func() error { _, err := refDecodeRTWRequest(rtwBytes); return err }},
		{"decode-allocate/ours", func() error { _, err := decodeAllocateRequest(allocBytes); return err }},
		{"decode-allocate/reference", func() error { _, err := refDecodeAllocateRequest(allocBytes); return err }},
		{"encode-allocate/ours", func() error { alloc.encode(); return nil }},
		{"encode-allocate/reference", func() error {
			_, err := refEnc.Marshal(refAllocateRequest{tagSet(alloc.ShareNumbers), alloc.AllocatedSize})
			return err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
