package storagehttp

import (
	"math"
	"slices"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cbor"
)

// The CBOR messages of the protocol, as the CDDL schemas of the spec and of
// http_server.py / http_client.py give them. Request decoders (used by the
// server) are strict as Tahoe's pycddl validation is: closed maps, every
// key present, sets tagged 258, unsigned integers only. Response decoders
// (used by the client) skip keys they do not know and take untagged sets,
// so a newer server does not break an older client.

// Limits from the CDDL schemas.
const (
	maxSetShares   = 256   // #6.258([0*256 uint])
	maxTestVectors = 30    // "test": [0*30 {...}]
	maxReadVectors = 30    // "read-vector": [0*30 {...}]
	maxTWShares    = 256   // "test-write-vectors": {0*256 share_number: ...}
	maxReasonBytes = 32765 // reason: tstr .size (1..32765)
	// maxSentReason is the longest reason whose message fits the 32768
	// bytes the server reads: 11 bytes of map, key and string head.
	maxSentReason = maxCorruptBody - 11
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

func readShareNum(r *cbor.Reader) (lafs.ShareNum, error) {
	n, err := r.Uint()
	if err != nil {
		return 0, err
	}
	if n > math.MaxUint16 {
		return 0, cbor.SchemaError("share number %d out of range", n)
	}
	return lafs.ShareNum(n), nil
}

// readShareSet reads #6.258([0*256 uint]) into sorted, distinct share numbers.
func readShareSet(r *cbor.Reader, requireTag bool) ([]lafs.ShareNum, error) {
	t, tagged, err := r.Tag()
	if err != nil {
		return nil, err
	}
	if tagged && t != cbor.TagSet {
		return nil, cbor.SchemaError("tag %d, want %d (set)", t, cbor.TagSet)
	}
	if !tagged && requireTag {
		return nil, cbor.SchemaError("share numbers must be a set (tag %d)", cbor.TagSet)
	}
	out := []lafs.ShareNum{}
	err = r.Array(maxSetShares, func(int) error {
		n, err := readShareNum(r)
		out = append(out, n)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// byteCopy reads a byte string and returns a copy of it, never nil.
func byteCopy(r *cbor.Reader) ([]byte, error) {
	s, err := r.ByteString()
	if err != nil {
		return nil, err
	}
	return append([]byte{}, s...), nil
}

func writeShareSet(w *cbor.Writer, s []lafs.ShareNum) {
	s = slices.Clone(s)
	slices.Sort(s)
	s = slices.Compact(s)
	w.Tag(cbor.TagSet)
	w.Array(len(s))
	for _, n := range s {
		w.Uint(uint64(n))
	}
}

// allocateRequest is the body of POST /storage/v1/immutable/:si:
//
//	{share-numbers: #6.258([0*256 uint]), allocated-size: uint}
type allocateRequest struct {
	ShareNumbers  []lafs.ShareNum
	AllocatedSize uint64
}

func (m allocateRequest) encode() []byte {
	var w cbor.Writer
	w.Map(2)
	w.Text("share-numbers")
	writeShareSet(&w, m.ShareNumbers)
	w.Text("allocated-size")
	w.Uint(m.AllocatedSize)
	return w.Bytes()
}

func decodeAllocateRequest(b []byte) (m allocateRequest, err error) {
	err = cbor.Decode(b, func(r *cbor.Reader) error {
		return r.Fields(cbor.MajorText, cbor.Closed, []string{"share-numbers", "allocated-size"}, func(i int) (err error) {
			if i == 0 {
				m.ShareNumbers, err = readShareSet(r, true)
			} else {
				m.AllocatedSize, err = r.Uint()
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
	var w cbor.Writer
	w.Map(2)
	w.Text("already-have")
	writeShareSet(&w, res.AlreadyHave)
	w.Text("allocated")
	writeShareSet(&w, res.Allocated)
	return w.Bytes()
}

func decodeAllocateResponse(b []byte) (res lafs.AllocateResult, err error) {
	err = cbor.Decode(b, func(r *cbor.Reader) error {
		return r.Fields(cbor.MajorText, cbor.Open, []string{"already-have", "allocated"}, func(i int) (err error) {
			if i == 0 {
				res.AlreadyHave, err = readShareSet(r, false)
			} else {
				res.Allocated, err = readShareSet(r, false)
			}
			return err
		})
	})
	return res, err
}

// encodeShareSet and decodeShareSet carry the answer to the two "shares"
// listings: #6.258([0*256 uint]).
func encodeShareSet(s []lafs.ShareNum) []byte {
	var w cbor.Writer
	writeShareSet(&w, s)
	return w.Bytes()
}

func decodeShareSet(b []byte) (s []lafs.ShareNum, err error) {
	err = cbor.Decode(b, func(r *cbor.Reader) (err error) {
		s, err = readShareSet(r, false)
		return err
	})
	return s, err
}

// writeResponse answers a PATCH, with 200 or 201 alike:
//
//	{required: [0* {begin: uint, end: uint}]}
func encodeWriteResponse(required []lafs.ByteRange) []byte {
	var w cbor.Writer
	w.Map(1)
	w.Text("required")
	w.Array(len(required))
	for _, rg := range required {
		w.Map(2)
		w.Text("begin")
		w.Uint(rg.Begin)
		w.Text("end")
		w.Uint(rg.End)
	}
	return w.Bytes()
}

func decodeWriteResponse(b []byte) (required []lafs.ByteRange, err error) {
	required = []lafs.ByteRange{}
	err = cbor.Decode(b, func(r *cbor.Reader) error {
		return r.Fields(cbor.MajorText, cbor.Open, []string{"required"}, func(int) error {
			return r.Array(math.MaxInt, func(int) error {
				var rg lafs.ByteRange
				err := r.Fields(cbor.MajorText, cbor.Open, []string{"begin", "end"}, func(i int) (err error) {
					if i == 0 {
						rg.Begin, err = r.Uint()
					} else {
						rg.End, err = r.Uint()
					}
					return err
				})
				if err == nil && rg.End < rg.Begin {
					err = cbor.SchemaError("required range [%d, %d) ends before it begins", rg.Begin, rg.End)
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
	var w cbor.Writer
	w.Map(1)
	w.Text("reason")
	w.Text(reason)
	return w.Bytes()
}

func decodeCorruptRequest(b []byte) (reason string, err error) {
	err = cbor.Decode(b, func(r *cbor.Reader) error {
		return r.Fields(cbor.MajorText, cbor.Closed, []string{"reason"}, func(int) (err error) {
			reason, err = r.Text()
			if err == nil && (len(reason) < 1 || len(reason) > maxReasonBytes) {
				err = cbor.SchemaError("reason of %d bytes, want 1 to %d", len(reason), maxReasonBytes)
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
	var w cbor.Writer
	w.Map(2)
	w.ByteStringOf(versionV1Key)
	w.Map(3)
	w.ByteStringOf(versionMaxImmKey)
	w.Uint(v.MaximumImmutableShareSize)
	w.ByteStringOf(versionMaxMutKey)
	w.Uint(v.MaximumMutableShareSize)
	w.ByteStringOf(versionAvailableKey)
	w.Uint(v.AvailableSpace)
	w.ByteStringOf(versionAppKey)
	app := v.ApplicationVersion
	if app == nil {
		app = []byte{}
	}
	w.ByteString(app)
	return w.Bytes()
}

func decodeVersion(b []byte) (v lafs.ServerVersion, err error) {
	err = cbor.Decode(b, func(r *cbor.Reader) error {
		return r.Fields(cbor.MajorBytes, cbor.Open, []string{versionV1Key, versionAppKey}, func(i int) (err error) {
			if i == 1 {
				v.ApplicationVersion, err = byteCopy(r)
				return err
			}
			names := []string{versionMaxImmKey, versionMaxMutKey, versionAvailableKey}
			return r.Fields(cbor.MajorBytes, cbor.Open, names, func(j int) (err error) {
				switch j {
				case 0:
					v.MaximumImmutableShareSize, err = r.Uint()
				case 1:
					v.MaximumMutableShareSize, err = r.Uint()
				default:
					v.AvailableSpace, err = r.Uint()
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
	var w cbor.Writer
	w.Map(2)
	w.Text("test-write-vectors")
	shares := make([]lafs.ShareNum, 0, len(m.TestWrite))
	for n := range m.TestWrite {
		shares = append(shares, n)
	}
	slices.Sort(shares)
	w.Map(len(shares))
	for _, n := range shares {
		tw := m.TestWrite[n]
		w.Uint(uint64(n))
		w.Map(3)
		w.Text("test")
		w.Array(len(tw.Test))
		for _, t := range tw.Test {
			w.Map(3)
			w.Text("offset")
			w.Uint(t.Offset)
			w.Text("size")
			w.Uint(t.Size)
			w.Text("specimen")
			w.ByteString(t.Specimen)
		}
		w.Text("write")
		w.Array(len(tw.Write))
		for _, wv := range tw.Write {
			w.Map(2)
			w.Text("offset")
			w.Uint(wv.Offset)
			w.Text("data")
			w.ByteString(wv.Data)
		}
		w.Text("new-length")
		if tw.NewLength == nil {
			w.Null()
		} else {
			w.Uint(*tw.NewLength)
		}
	}
	w.Text("read-vector")
	w.Array(len(m.Read))
	for _, rv := range m.Read {
		w.Map(2)
		w.Text("offset")
		w.Uint(rv.Offset)
		w.Text("size")
		w.Uint(rv.Size)
	}
	return w.Bytes()
}

// decodeRTWRequest decodes strictly. Specimens and data alias b.
func decodeRTWRequest(b []byte) (m rtwRequest, err error) {
	m.TestWrite = map[lafs.ShareNum]lafs.TestWriteVectors{}
	m.Read = []lafs.ReadVector{}
	err = cbor.Decode(b, func(r *cbor.Reader) error {
		return r.Fields(cbor.MajorText, cbor.Closed, []string{"test-write-vectors", "read-vector"}, func(i int) error {
			if i == 1 {
				return r.Array(maxReadVectors, func(int) error {
					var rv lafs.ReadVector
					err := r.Fields(cbor.MajorText, cbor.Closed, []string{"offset", "size"}, func(j int) (err error) {
						if j == 0 {
							rv.Offset, err = r.Uint()
						} else {
							rv.Size, err = r.Uint()
						}
						return err
					})
					m.Read = append(m.Read, rv)
					return err
				})
			}
			return r.Map(maxTWShares, func(int) error {
				n, err := readShareNum(r)
				if err != nil {
					return err
				}
				if _, dup := m.TestWrite[n]; dup {
					return cbor.SchemaError("duplicate share number %d", n)
				}
				tw, err := readTestWriteVectors(r)
				m.TestWrite[n] = tw
				return err
			})
		})
	})
	return m, err
}

func readTestWriteVectors(r *cbor.Reader) (tw lafs.TestWriteVectors, err error) {
	tw.Test = []lafs.TestVector{}
	tw.Write = []lafs.WriteVector{}
	err = r.Fields(cbor.MajorText, cbor.Closed, []string{"test", "write", "new-length"}, func(i int) error {
		switch i {
		case 0:
			return r.Array(maxTestVectors, func(int) error {
				var t lafs.TestVector
				err := r.Fields(cbor.MajorText, cbor.Closed, []string{"offset", "size", "specimen"}, func(j int) (err error) {
					switch j {
					case 0:
						t.Offset, err = r.Uint()
					case 1:
						t.Size, err = r.Uint()
					default:
						t.Specimen, err = r.ByteString()
					}
					return err
				})
				tw.Test = append(tw.Test, t)
				return err
			})
		case 1:
			return r.Array(math.MaxInt, func(int) error {
				var wv lafs.WriteVector
				err := r.Fields(cbor.MajorText, cbor.Closed, []string{"offset", "data"}, func(j int) (err error) {
					if j == 0 {
						wv.Offset, err = r.Uint()
					} else {
						wv.Data, err = r.ByteString()
					}
					return err
				})
				tw.Write = append(tw.Write, wv)
				return err
			})
		default:
			if r.Null() {
				return nil
			}
			n, err := r.Uint()
			tw.NewLength = &n
			return err
		}
	})
	return tw, err
}

// encodeRTWResponse writes {"success": bool, "data": {0*256 share_number: [0* bstr]}}.
func encodeRTWResponse(res lafs.ReadTestWriteResult) []byte {
	var w cbor.Writer
	w.Map(2)
	w.Text("success")
	w.Bool(res.Success)
	w.Text("data")
	shares := make([]lafs.ShareNum, 0, len(res.Data))
	for n := range res.Data {
		shares = append(shares, n)
	}
	slices.Sort(shares)
	w.Map(len(shares))
	for _, n := range shares {
		w.Uint(uint64(n))
		w.Array(len(res.Data[n]))
		for _, d := range res.Data[n] {
			w.ByteString(d)
		}
	}
	return w.Bytes()
}

func decodeRTWResponse(b []byte) (res lafs.ReadTestWriteResult, err error) {
	res.Data = map[lafs.ShareNum][][]byte{}
	err = cbor.Decode(b, func(r *cbor.Reader) error {
		return r.Fields(cbor.MajorText, cbor.Open, []string{"success", "data"}, func(i int) (err error) {
			if i == 0 {
				res.Success, err = r.Bool()
				return err
			}
			return r.Map(maxTWShares, func(int) error {
				n, err := readShareNum(r)
				if err != nil {
					return err
				}
				if _, dup := res.Data[n]; dup {
					return cbor.SchemaError("duplicate share number %d", n)
				}
				reads := [][]byte{}
				err = r.Array(math.MaxInt, func(int) error {
					d, err := r.ByteString() // aliases b, which is ours
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
