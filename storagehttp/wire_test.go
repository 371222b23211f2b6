package storagehttp

import (
	"bytes"
	"encoding/hex"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/lafs/lafs"
)

// (The writer's shortest heads are checked in package cbor.)

// TestDecodeOtherEncoder decodes messages written by another CBOR library
// (maps in its own key order, sets as cbor.Tag 258).
func TestDecodeOtherEncoder(t *testing.T) {
	set := func(n ...uint64) cbor.Tag { return cbor.Tag{Number: 258, Content: n} }
	enc := func(v any) []byte {
		b, err := cbor.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, err := decodeAllocateRequest(enc(map[string]any{"share-numbers": set(9, 2, 2), "allocated-size": uint64(1 << 40)}))
	if err != nil || !reflect.DeepEqual(a, allocateRequest{ShareNumbers: []lafs.ShareNum{2, 9}, AllocatedSize: 1 << 40}) {
		t.Errorf("allocate: %+v, %v", a, err)
	}
	nl := uint64(5)
	rtw, err := decodeRTWRequest(enc(map[string]any{
		"read-vector": []any{map[string]any{"offset": 1, "size": 2}},
		"test-write-vectors": map[uint64]any{
			4: map[string]any{
				"test":       []any{map[string]any{"offset": 0, "size": 1, "specimen": []byte{}}},
				"write":      []any{map[string]any{"offset": 3, "data": []byte("abc")}},
				"new-length": nl,
			},
			0: map[string]any{"test": []any{}, "write": []any{}, "new-length": nil},
		},
	}))
	want := rtwRequest{
		TestWrite: map[lafs.ShareNum]lafs.TestWriteVectors{
			4: {Test: []lafs.TestVector{{Offset: 0, Size: 1, Specimen: []byte{}}}, Write: []lafs.WriteVector{{Offset: 3, Data: []byte("abc")}}, NewLength: &nl},
			0: {Test: []lafs.TestVector{}, Write: []lafs.WriteVector{}},
		},
		Read: []lafs.ReadVector{{Offset: 1, Size: 2}},
	}
	if err != nil || !reflect.DeepEqual(rtw, want) {
		t.Errorf("rtw: %+v, %v", rtw, err)
	}
	v, err := decodeVersion(enc(map[cbor.ByteString]any{
		versionAppKey: []byte("tahoe-lafs/1.20.0"),
		versionV1Key: map[cbor.ByteString]any{
			versionAvailableKey: uint64(3), versionMaxMutKey: uint64(2), versionMaxImmKey: uint64(1),
			"tolerates-immutable-read-overrun": true, // Foolscap-era keys are skipped
		},
		"unknown": []any{1, "x", map[string]any{}},
	}))
	if err != nil || !reflect.DeepEqual(v, lafs.ServerVersion{MaximumImmutableShareSize: 1, MaximumMutableShareSize: 2, AvailableSpace: 3, ApplicationVersion: []byte("tahoe-lafs/1.20.0")}) {
		t.Errorf("version: %+v, %v", v, err)
	}
	// Text keys are not Tahoe's version message.
	if _, err := decodeVersion(enc(map[string]any{versionAppKey: []byte("x"), versionV1Key: map[string]any{}})); err == nil {
		t.Error("version with text keys")
	}
	res, err := decodeAllocateResponse(enc(map[string]any{"allocated": set(3, 1), "already-have": []uint64{}, "extra": 1}))
	if err != nil || !reflect.DeepEqual(res, lafs.AllocateResult{AlreadyHave: []lafs.ShareNum{}, Allocated: []lafs.ShareNum{1, 3}}) {
		t.Errorf("allocate response: %+v, %v", res, err)
	}
	req, err := decodeWriteResponse(enc(map[string]any{"required": []any{map[string]any{"end": 9, "begin": 4}}}))
	if err != nil || !reflect.DeepEqual(req, []lafs.ByteRange{{Begin: 4, End: 9}}) {
		t.Errorf("write response: %+v, %v", req, err)
	}
	rr, err := decodeRTWResponse(enc(map[string]any{"success": false, "data": map[uint64]any{2: [][]byte{[]byte("a"), {}}}}))
	if err != nil || rr.Success || !reflect.DeepEqual(rr.Data, map[lafs.ShareNum][][]byte{2: {[]byte("a"), {}}}) {
		t.Errorf("rtw response: %+v, %v", rr, err)
	}
}

// TestEncodeForOtherDecoder: what we write, another library reads as the
// schema says: text keys, tag 258 sets, byte strings.
func TestEncodeForOtherDecoder(t *testing.T) {
	dm, err := cbor.DecOptions{DupMapKey: cbor.DupMapKeyEnforcedAPF}.DecMode()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := dm.Unmarshal(allocateRequest{ShareNumbers: []lafs.ShareNum{7, 1, 7}, AllocatedSize: 48}.encode(), &m); err != nil {
		t.Fatal(err)
	}
	if tag, ok := m["share-numbers"].(cbor.Tag); !ok || tag.Number != 258 || !reflect.DeepEqual(tag.Content, []any{uint64(1), uint64(7)}) || m["allocated-size"] != uint64(48) {
		t.Errorf("allocate: %#v", m)
	}
	nl := uint64(0)
	b := rtwRequest{TestWrite: map[lafs.ShareNum]lafs.TestWriteVectors{2: {Write: []lafs.WriteVector{{Offset: 1, Data: []byte("d")}}, NewLength: &nl}}}.encode()
	var g any
	if err := dm.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	want := map[any]any{
		"test-write-vectors": map[any]any{uint64(2): map[any]any{
			"test": []any{}, "write": []any{map[any]any{"offset": uint64(1), "data": []byte("d")}}, "new-length": uint64(0),
		}},
		"read-vector": []any{},
	}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("rtw:\n %#v, want\n %#v", g, want)
	}
}

func TestRoundTrips(t *testing.T) {
	nl := uint64(77)
	rtw := rtwRequest{
		TestWrite: map[lafs.ShareNum]lafs.TestWriteVectors{
			0:     {Test: []lafs.TestVector{{Offset: 1, Size: 2, Specimen: []byte("ab")}}, Write: []lafs.WriteVector{{Offset: math.MaxUint64, Data: bytes.Repeat([]byte("x"), 70000)}}, NewLength: &nl},
			65535: {Test: []lafs.TestVector{}, Write: []lafs.WriteVector{}},
		},
		Read: []lafs.ReadVector{{Offset: 0, Size: math.MaxUint64}},
	}
	if got, err := decodeRTWRequest(rtw.encode()); err != nil || !reflect.DeepEqual(got, rtw) {
		t.Errorf("rtw request: %v", err)
	}
	res := lafs.ReadTestWriteResult{Success: true, Data: map[lafs.ShareNum][][]byte{5: {[]byte("x"), {}}, 6: {}}}
	if got, err := decodeRTWResponse(encodeRTWResponse(res)); err != nil || !reflect.DeepEqual(got, res) {
		t.Errorf("rtw response: %+v %v", got, err)
	}
	v := lafs.ServerVersion{MaximumImmutableShareSize: math.MaxUint64, AvailableSpace: 1, ApplicationVersion: []byte{}}
	if got, err := decodeVersion(encodeVersion(v)); err != nil || !reflect.DeepEqual(got, v) {
		t.Errorf("version: %+v %v", got, err)
	}
	if r, err := decodeCorruptRequest(encodeCorruptRequest("é")); err != nil || r != "é" {
		t.Errorf("reason %q %v", r, err)
	}
	if _, err := decodeCorruptRequest(encodeCorruptRequest(strings.Repeat("x", maxReasonBytes+1))); err == nil {
		t.Error("reason too long")
	}
	if _, err := decodeCorruptRequest(encodeCorruptRequest(strings.Repeat("x", maxReasonBytes))); err != nil {
		t.Error(err)
	}
}

func TestDecodeRejects(t *testing.T) {
	h := func(s string) []byte {
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for name, b := range map[string][]byte{
		"31 read vectors": rtwRequest{TestWrite: map[lafs.ShareNum]lafs.TestWriteVectors{}, Read: make([]lafs.ReadVector, 31)}.encode(),
		"31 test vectors": rtwRequest{TestWrite: map[lafs.ShareNum]lafs.TestWriteVectors{1: {Test: make([]lafs.TestVector, 31)}}}.encode(),
		"257 shares": func() []byte {
			m := map[lafs.ShareNum]lafs.TestWriteVectors{}
			for i := range 257 {
				m[lafs.ShareNum(i)] = lafs.TestWriteVectors{}
			}
			return rtwRequest{TestWrite: m}.encode()
		}(),
		"missing new-length": h("a2 72" + hx("test-write-vectors") + "a1 01 a2 64" + hx("test") + "80 65" + hx("write") + "80 6b" + hx("read-vector") + "80"),
		"duplicate share":    h("a2 72" + hx("test-write-vectors") + "a2 01 a3 64" + hx("test") + "80 65" + hx("write") + "80 6a" + hx("new-length") + "f6 01 a3 64" + hx("test") + "80 65" + hx("write") + "80 6a" + hx("new-length") + "f6 6b" + hx("read-vector") + "80"),
		"text specimen":      h("a2 72" + hx("test-write-vectors") + "a1 01 a3 64" + hx("test") + "81 a3 66" + hx("offset") + "00 64" + hx("size") + "00 68" + hx("specimen") + "60 65" + hx("write") + "80 6a" + hx("new-length") + "f6 6b" + hx("read-vector") + "80"),
		"new-length false":   h("a2 72" + hx("test-write-vectors") + "a1 01 a3 64" + hx("test") + "80 65" + hx("write") + "80 6a" + hx("new-length") + "f4 6b" + hx("read-vector") + "80"),
		"undefined":          h("a2 72" + hx("test-write-vectors") + "a1 01 a3 64" + hx("test") + "80 65" + hx("write") + "80 6a" + hx("new-length") + "f7 6b" + hx("read-vector") + "80"),
		"indefinite uint":    h("a2 72" + hx("test-write-vectors") + "a0 6b" + hx("read-vector") + "81 a2 66" + hx("offset") + "1f 64" + hx("size") + "00"),
		"reserved info":      h("a2 72" + hx("test-write-vectors") + "a0 6b" + hx("read-vector") + "81 a2 66" + hx("offset") + "1c 64" + hx("size") + "00"),
		"bad utf-8 key":      h("a2 72" + hx("test-write-vectors") + "a0 6b" + hx("read-vector") + "81 a2 66 ff" + hx("ffset") + "00 64" + hx("size") + "00"),
		"nested indefinite":  h("a2 72" + hx("test-write-vectors") + "a0 6b" + hx("read-vector") + "80 ff"),
		"indefinite chunks":  h("a1 66" + hx("reason") + "7f 61 61 41 61 ff"),
		"break in string":    h("a1 66" + hx("reason") + "7f ff ff"),
	} {
		_, err1 := decodeRTWRequest(b)
		_, err2 := decodeCorruptRequest(b)
		if err1 == nil || (strings.HasPrefix(name, "indefinite chunks") || strings.HasPrefix(name, "break")) && err2 == nil {
			t.Errorf("%s: taken (%v, %v)", name, err1, err2)
		}
	}
	if r, err := decodeCorruptRequest(h("a1 66" + hx("reason") + "7f 61 61 61 62 ff")); err != nil || r != "ab" {
		t.Errorf("indefinite reason: %q %v", r, err)
	}
}
