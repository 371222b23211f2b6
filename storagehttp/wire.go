package storagehttp

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/lafs/lafs"
)

// The CBOR messages of the protocol, as the CDDL schemas of the spec and of
// http_server.py / http_client.py give them. Request decoders (used by the
// server) are strict as Tahoe's pycddl validation is: closed maps, every
// key present, sets tagged 258, unsigned integers only. Response decoders
// (used by the client) skip keys they do not know and take untagged sets,
// so a newer server does not break an older client.

// errSchema is wrapped by every message that is well-formed CBOR but does
// not match its schema.
var errSchema = errors.New("message does not match the schema")

// Limits from the CDDL schemas.
const (
	maxSetShares   = 256   // #6.258([0*256 uint])
	maxTestVectors = 30    // "test": [0*30 {...}]
	maxReadVectors = 30    // "read-vector": [0*30 {...}]
	maxTWShares    = 256   // "test-write-vectors": {0*256 share_number: ...}
	maxReasonBytes = 32765 // reason: tstr .size (1..32765)
	// maxSentReason is the longest reason whose message fits the 32768
	// bytes the server reads: 11 bytes of map, key and string head.
	maxSentReason    = maxCorruptBody - 11
	maxLenientFields = 1024 // keys skipped in one response map
)

// Keys of the version message; they are byte strings, not text: Tahoe
// sends a dict with bytes keys and its client's schema quotes them with
// single quotes (bstr).
const (
	versionV1Key        = "http://allmydata.org/tahoe/protocols/storage/v1"
	versionAppKey       = "application-version"
	versionMaxImmKey    = "maximum-immutable-share-size"
	versionMaxMutKey    = "maximum-mutable-share-size"
	versionAvailableKey = "available-space"
)

func schemaErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errSchema, fmt.Sprintf(format, args...))
}

// fields reads a map whose keys (of type keyMajor) are names, calling f
// with the index of each key found, before its value. Every name must be
// present once. Strict decoding refuses other keys; lenient decoding skips
// them and their values.
func (r *cborReader) fields(keyMajor byte, strict bool, names []string, f func(i int) error) error {
	var seen uint64
	max := len(names)
	if !strict {
		max = maxLenientFields
	}
	err := r.mapEach(max, func(int) error {
		m, err := r.peek()
		if err != nil {
			return err
		}
		if m != keyMajor {
			if strict {
				return schemaErr("map key of major type %d, want %d", m, keyMajor)
			}
			if err := r.skip(0); err != nil {
				return err
			}
			return r.skip(0)
		}
		k, err := r.str(keyMajor)
		if err != nil {
			return err
		}
		i := slices.Index(names, string(k))
		if i < 0 {
			if strict {
				return schemaErr("unexpected key %q", k)
			}
			return r.skip(0)
		}
		if seen&(1<<i) != 0 {
			return schemaErr("duplicate key %q", k)
		}
		seen |= 1 << i
		return f(i)
	})
	if err != nil {
		return err
	}
	for i, n := range names {
		if seen&(1<<i) == 0 {
			return schemaErr("missing key %q", n)
		}
	}
	return nil
}

func (r *cborReader) shareNum() (lafs.ShareNum, error) {
	n, err := r.uint()
	if err != nil {
		return 0, err
	}
	if n > math.MaxUint16 {
		return 0, schemaErr("share number %d out of range", n)
	}
	return lafs.ShareNum(n), nil
}

// shareSet reads #6.258([0*256 uint]) into sorted, distinct share numbers.
func (r *cborReader) shareSet(requireTag bool) ([]lafs.ShareNum, error) {
	t, tagged, err := r.tag()
	if err != nil {
		return nil, err
	}
	if tagged && t != tagSet {
		return nil, schemaErr("tag %d, want %d (set)", t, tagSet)
	}
	if !tagged && requireTag {
		return nil, schemaErr("share numbers must be a set (tag %d)", tagSet)
	}
	out := []lafs.ShareNum{}
	err = r.array(maxSetShares, func(int) error {
		n, err := r.shareNum()
		out = append(out, n)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func (w *cborWriter) shareSet(s []lafs.ShareNum) {
	s = slices.Clone(s)
	slices.Sort(s)
	s = slices.Compact(s)
	w.tag(tagSet)
	w.array(len(s))
	for _, n := range s {
		w.uint(uint64(n))
	}
}

func decodeWhole(b []byte, f func(r *cborReader) error) error {
	r := &cborReader{b: b}
	if err := f(r); err != nil {
		return err
	}
	return r.end()
}

// allocateRequest is the body of POST /storage/v1/immutable/:si:
//
//	{share-numbers: #6.258([0*256 uint]), allocated-size: uint}
type allocateRequest struct {
	ShareNumbers  []lafs.ShareNum
	AllocatedSize uint64
}

func (m allocateRequest) encode() []byte {
	var w cborWriter
	w.mapHead(2)
	w.text("share-numbers")
	w.shareSet(m.ShareNumbers)
	w.text("allocated-size")
	w.uint(m.AllocatedSize)
	return w.b
}

func decodeAllocateRequest(b []byte) (m allocateRequest, err error) {
	err = decodeWhole(b, func(r *cborReader) error {
		return r.fields(majText, true, []string{"share-numbers", "allocated-size"}, func(i int) (err error) {
			if i == 0 {
				m.ShareNumbers, err = r.shareSet(true)
			} else {
				m.AllocatedSize, err = r.uint()
			}
			return err
		})
	})
	return m, err
}

// allocateResponse answers an allocation:
//
//	{already-have: #6.258([0*256 uint]), allocated: #6.258([0*256 uint])}
func encodeAllocateResponse(res lafs.AllocateResult) []byte {
	var w cborWriter
	w.mapHead(2)
	w.text("already-have")
	w.shareSet(res.AlreadyHave)
	w.text("allocated")
	w.shareSet(res.Allocated)
	return w.b
}

func decodeAllocateResponse(b []byte) (res lafs.AllocateResult, err error) {
	err = decodeWhole(b, func(r *cborReader) error {
		return r.fields(majText, false, []string{"already-have", "allocated"}, func(i int) (err error) {
			if i == 0 {
				res.AlreadyHave, err = r.shareSet(false)
			} else {
				res.Allocated, err = r.shareSet(false)
			}
			return err
		})
	})
	return res, err
}

// encodeShareSet and decodeShareSet carry the answer to the two "shares"
// listings: #6.258([0*256 uint]).
func encodeShareSet(s []lafs.ShareNum) []byte {
	var w cborWriter
	w.shareSet(s)
	return w.b
}

func decodeShareSet(b []byte) (s []lafs.ShareNum, err error) {
	err = decodeWhole(b, func(r *cborReader) (err error) {
		s, err = r.shareSet(false)
		return err
	})
	return s, err
}

// writeResponse answers a PATCH, with 200 or 201 alike:
//
//	{required: [0* {begin: uint, end: uint}]}
func encodeWriteResponse(required []lafs.ByteRange) []byte {
	var w cborWriter
	w.mapHead(1)
	w.text("required")
	w.array(len(required))
	for _, rg := range required {
		w.mapHead(2)
		w.text("begin")
		w.uint(rg.Begin)
		w.text("end")
		w.uint(rg.End)
	}
	return w.b
}

func decodeWriteResponse(b []byte) (required []lafs.ByteRange, err error) {
	required = []lafs.ByteRange{}
	err = decodeWhole(b, func(r *cborReader) error {
		return r.fields(majText, false, []string{"required"}, func(int) error {
			return r.array(math.MaxInt, func(int) error {
				var rg lafs.ByteRange
				err := r.fields(majText, false, []string{"begin", "end"}, func(i int) (err error) {
					if i == 0 {
						rg.Begin, err = r.uint()
					} else {
						rg.End, err = r.uint()
					}
					return err
				})
				if err == nil && rg.End < rg.Begin {
					err = schemaErr("required range [%d, %d) ends before it begins", rg.Begin, rg.End)
				}
				required = append(required, rg)
				return err
			})
		})
	})
	return required, err
}

// corruptRequest is the body of both corruption advisories:
//
//	{reason: tstr .size (1..32765)}
func encodeCorruptRequest(reason string) []byte {
	var w cborWriter
	w.mapHead(1)
	w.text("reason")
	w.text(reason)
	return w.b
}

func decodeCorruptRequest(b []byte) (reason string, err error) {
	err = decodeWhole(b, func(r *cborReader) error {
		return r.fields(majText, true, []string{"reason"}, func(int) (err error) {
			reason, err = r.text()
			if err == nil && (len(reason) < 1 || len(reason) > maxReasonBytes) {
				err = schemaErr("reason of %d bytes, want 1 to %d", len(reason), maxReasonBytes)
			}
			return err
		})
	})
	return reason, err
}

// encodeVersion writes the version message, byte-string keys and all:
//
//	{'http://allmydata.org/tahoe/protocols/storage/v1' => {
//	    'maximum-immutable-share-size' => uint
//	    'maximum-mutable-share-size' => uint
//	    'available-space' => uint },
//	 'application-version' => bstr}
func encodeVersion(v lafs.ServerVersion) []byte {
	var w cborWriter
	w.mapHead(2)
	w.byteText(versionV1Key)
	w.mapHead(3)
	w.byteText(versionMaxImmKey)
	w.uint(v.MaximumImmutableShareSize)
	w.byteText(versionMaxMutKey)
	w.uint(v.MaximumMutableShareSize)
	w.byteText(versionAvailableKey)
	w.uint(v.AvailableSpace)
	w.byteText(versionAppKey)
	app := v.ApplicationVersion
	if app == nil {
		app = []byte{}
	}
	w.bytes(app)
	return w.b
}

func decodeVersion(b []byte) (v lafs.ServerVersion, err error) {
	err = decodeWhole(b, func(r *cborReader) error {
		return r.fields(majBytes, false, []string{versionV1Key, versionAppKey}, func(i int) (err error) {
			if i == 1 {
				v.ApplicationVersion, err = r.bytes()
				return err
			}
			names := []string{versionMaxImmKey, versionMaxMutKey, versionAvailableKey}
			return r.fields(majBytes, false, names, func(j int) (err error) {
				switch j {
				case 0:
					v.MaximumImmutableShareSize, err = r.uint()
				case 1:
					v.MaximumMutableShareSize, err = r.uint()
				default:
					v.AvailableSpace, err = r.uint()
				}
				return err
			})
		})
	})
	return v, err
}

// rtwRequest is the body of POST /storage/v1/mutable/:si/read-test-write:
//
//	{"test-write-vectors": {0*256 share_number: {
//	    "test": [0*30 {"offset": uint, "size": uint, "specimen": bstr}]
//	    "write": [* {"offset": uint, "data": bstr}]
//	    "new-length": uint / null }}
//	 "read-vector": [0*30 {"offset": uint, "size": uint}]}
type rtwRequest struct {
	TestWrite map[lafs.ShareNum]lafs.TestWriteVectors
	Read      []lafs.ReadVector
}

func (m rtwRequest) encode() []byte {
	var w cborWriter
	w.mapHead(2)
	w.text("test-write-vectors")
	shares := make([]lafs.ShareNum, 0, len(m.TestWrite))
	for n := range m.TestWrite {
		shares = append(shares, n)
	}
	slices.Sort(shares)
	w.mapHead(len(shares))
	for _, n := range shares {
		tw := m.TestWrite[n]
		w.uint(uint64(n))
		w.mapHead(3)
		w.text("test")
		w.array(len(tw.Test))
		for _, t := range tw.Test {
			w.mapHead(3)
			w.text("offset")
			w.uint(t.Offset)
			w.text("size")
			w.uint(t.Size)
			w.text("specimen")
			w.bytes(t.Specimen)
		}
		w.text("write")
		w.array(len(tw.Write))
		for _, wv := range tw.Write {
			w.mapHead(2)
			w.text("offset")
			w.uint(wv.Offset)
			w.text("data")
			w.bytes(wv.Data)
		}
		w.text("new-length")
		if tw.NewLength == nil {
			w.null()
		} else {
			w.uint(*tw.NewLength)
		}
	}
	w.text("read-vector")
	w.array(len(m.Read))
	for _, rv := range m.Read {
		w.mapHead(2)
		w.text("offset")
		w.uint(rv.Offset)
		w.text("size")
		w.uint(rv.Size)
	}
	return w.b
}

// decodeRTWRequest decodes strictly. Specimens and data alias b.
func decodeRTWRequest(b []byte) (m rtwRequest, err error) {
	m.TestWrite = map[lafs.ShareNum]lafs.TestWriteVectors{}
	m.Read = []lafs.ReadVector{}
	err = decodeWhole(b, func(r *cborReader) error {
		return r.fields(majText, true, []string{"test-write-vectors", "read-vector"}, func(i int) error {
			if i == 1 {
				return r.array(maxReadVectors, func(int) error {
					var rv lafs.ReadVector
					err := r.fields(majText, true, []string{"offset", "size"}, func(j int) (err error) {
						if j == 0 {
							rv.Offset, err = r.uint()
						} else {
							rv.Size, err = r.uint()
						}
						return err
					})
					m.Read = append(m.Read, rv)
					return err
				})
			}
			return r.mapEach(maxTWShares, func(int) error {
				n, err := r.shareNum()
				if err != nil {
					return err
				}
				if _, dup := m.TestWrite[n]; dup {
					return schemaErr("duplicate share number %d", n)
				}
				tw, err := r.testWriteVectors()
				m.TestWrite[n] = tw
				return err
			})
		})
	})
	return m, err
}

func (r *cborReader) testWriteVectors() (tw lafs.TestWriteVectors, err error) {
	tw.Test = []lafs.TestVector{}
	tw.Write = []lafs.WriteVector{}
	err = r.fields(majText, true, []string{"test", "write", "new-length"}, func(i int) error {
		switch i {
		case 0:
			return r.array(maxTestVectors, func(int) error {
				var t lafs.TestVector
				err := r.fields(majText, true, []string{"offset", "size", "specimen"}, func(j int) (err error) {
					switch j {
					case 0:
						t.Offset, err = r.uint()
					case 1:
						t.Size, err = r.uint()
					default:
						t.Specimen, err = r.str(majBytes)
					}
					return err
				})
				tw.Test = append(tw.Test, t)
				return err
			})
		case 1:
			return r.array(math.MaxInt, func(int) error {
				var wv lafs.WriteVector
				err := r.fields(majText, true, []string{"offset", "data"}, func(j int) (err error) {
					if j == 0 {
						wv.Offset, err = r.uint()
					} else {
						wv.Data, err = r.str(majBytes)
					}
					return err
				})
				tw.Write = append(tw.Write, wv)
				return err
			})
		default:
			if r.null() {
				return nil
			}
			n, err := r.uint()
			tw.NewLength = &n
			return err
		}
	})
	return tw, err
}

// encodeRTWResponse writes {"success": bool, "data": {0*256 share_number: [0* bstr]}}.
func encodeRTWResponse(res lafs.ReadTestWriteResult) []byte {
	var w cborWriter
	w.mapHead(2)
	w.text("success")
	w.boolean(res.Success)
	w.text("data")
	shares := make([]lafs.ShareNum, 0, len(res.Data))
	for n := range res.Data {
		shares = append(shares, n)
	}
	slices.Sort(shares)
	w.mapHead(len(shares))
	for _, n := range shares {
		w.uint(uint64(n))
		w.array(len(res.Data[n]))
		for _, d := range res.Data[n] {
			w.bytes(d)
		}
	}
	return w.b
}

func decodeRTWResponse(b []byte) (res lafs.ReadTestWriteResult, err error) {
	res.Data = map[lafs.ShareNum][][]byte{}
	err = decodeWhole(b, func(r *cborReader) error {
		return r.fields(majText, false, []string{"success", "data"}, func(i int) (err error) {
			if i == 0 {
				res.Success, err = r.bool()
				return err
			}
			return r.mapEach(maxTWShares, func(int) error {
				n, err := r.shareNum()
				if err != nil {
					return err
				}
				if _, dup := res.Data[n]; dup {
					return schemaErr("duplicate share number %d", n)
				}
				reads := [][]byte{}
				err = r.array(math.MaxInt, func(int) error {
					d, err := r.str(majBytes) // aliases b, which is ours
					reads = append(reads, d)
					return err
				})
				res.Data[n] = reads
				return err
			})
		})
	})
	return res, err
}
