package s3

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/lafs/lafs/backend"
)

// ErrTampered: an object in the bucket failed its authentication: it was
// changed, cut short, reordered or moved from another key by someone
// without the node's seal key (or sealed under another key), or its body
// was damaged on the way. The error wrapping it names the object, never a
// secret. It matches backend.ErrCorrupt too (errors.Is), so that callers
// above the backend need not know this package.
var ErrTampered error = tamperedError{}

// tamperedError is the type of ErrTampered.
type tamperedError struct{}

func (tamperedError) Error() string {
	return "s3: object failed authentication (altered in the store?)"
}

// Is makes ErrTampered match backend.ErrCorrupt.
func (tamperedError) Is(target error) bool { return target == backend.ErrCorrupt }

// The sealed format of every object:
//
//	header   magic (7 bytes) version (1) salt (32)
//	chunk 0  AES-256-GCM of up to chunkSize plaintext bytes, then its tag
//	chunk 1  ...
//
// Every chunk but the last holds exactly chunkSize bytes; the last holds
// 1 to chunkSize (0 only when the whole object is empty, which is one
// empty chunk). The per-object key is HMAC-SHA256(seal key, keyLabel ||
// salt), the nonce of chunk i is i big-endian in 12 bytes, and the
// additional data is the object's name (its key below the prefix) || i
// (8 bytes big-endian) || 1 if it is the last chunk else 0. So each chunk
// is bound to its object, its place and whether the object ends there.
const (
	magic       = "lafs-s3"
	version     = 1
	saltSize    = 32
	headerSize  = 8 + saltSize // magic, version, salt
	chunkSize   = 64 << 10
	tagSize     = 16
	sealedChunk = chunkSize + tagSize
	keyLabel    = "lafs s3 object key"
)

// numChunks returns how many chunks hold n plaintext bytes (at least 1).
func numChunks(n int64) int64 {
	if n <= 0 {
		return 1
	}
	return (n + chunkSize - 1) / chunkSize
}

// sealedSize returns the stored size of an object of n plaintext bytes.
func sealedSize(n int64) int64 {
	return int64(headerSize) + n + tagSize*numChunks(n)
}

// plainSize returns the plaintext size of an object stored in stored
// bytes, or false if no plaintext size gives that (it was cut short or
// extended).
func plainSize(stored int64) (int64, bool) {
	body := stored - int64(headerSize)
	if body < tagSize {
		return 0, false
	}
	chunks := (body + sealedChunk - 1) / sealedChunk
	last := body - (chunks-1)*sealedChunk
	if last < tagSize || last == tagSize && chunks > 1 {
		return 0, false
	}
	return body - chunks*tagSize, true
}

// sealer seals and opens the chunks of one object version: one salt
// under one name.
type sealer struct {
	aead cipher.AEAD
	salt [saltSize]byte
	name string
}

// newSealer returns the sealer of the object name with the given salt.
func newSealer(sealKey *[32]byte, salt [saltSize]byte, name string) *sealer {
	m := hmac.New(sha256.New, sealKey[:])
	m.Write([]byte(keyLabel))
	m.Write(salt[:])
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		panic("s3: " + err.Error()) // a 32-byte key is always valid
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("s3: " + err.Error())
	}
	return &sealer{aead: aead, salt: salt, name: name}
}

// freshSealer returns the sealer of a new version of name, under a random
// salt.
func freshSealer(sealKey *[32]byte, name string) *sealer {
	var salt [saltSize]byte
	rand.Read(salt[:])
	return newSealer(sealKey, salt, name)
}

// header returns the object header.
func (s *sealer) header() []byte {
	h := make([]byte, 0, headerSize)
	h = append(h, magic...)
	h = append(h, version)
	return append(h, s.salt[:]...)
}

// parseHeader returns the salt of a header, or an error wrapping
// ErrTampered.
func parseHeader(h []byte) ([saltSize]byte, error) {
	var salt [saltSize]byte
	if len(h) < headerSize || string(h[:len(magic)]) != magic {
		return salt, fmt.Errorf("bad header: %w", ErrTampered)
	}
	if h[len(magic)] != version {
		return salt, fmt.Errorf("unknown format version %d: %w", h[len(magic)], ErrTampered)
	}
	copy(salt[:], h[len(magic)+1:headerSize])
	return salt, nil
}

func (s *sealer) nonceAD(i int64, final bool) (nonce [12]byte, ad []byte) {
	binary.BigEndian.PutUint64(nonce[4:], uint64(i))
	ad = make([]byte, 0, len(s.name)+9)
	ad = append(ad, s.name...)
	ad = binary.BigEndian.AppendUint64(ad, uint64(i))
	if final {
		ad = append(ad, 1)
	} else {
		ad = append(ad, 0)
	}
	return nonce, ad
}

// seal appends chunk i of plaintext p to dst. p and dst[len(dst):] may
// be the same memory (sealing in place).
func (s *sealer) seal(dst []byte, i int64, final bool, p []byte) []byte {
	nonce, ad := s.nonceAD(i, final)
	return s.aead.Seal(dst, nonce[:], p, ad)
}

// open appends the plaintext of sealed chunk i to dst, or returns an
// error wrapping ErrTampered.
func (s *sealer) open(dst []byte, i int64, final bool, c []byte) ([]byte, error) {
	nonce, ad := s.nonceAD(i, final)
	out, err := s.aead.Open(dst, nonce[:], c, ad)
	if err != nil {
		return dst, fmt.Errorf("chunk %d: %w", i, ErrTampered)
	}
	return out, nil
}

// sealedOffset returns where chunk i begins in the stored object.
func sealedOffset(i int64) int64 { return int64(headerSize) + i*sealedChunk }

// sealChunks seals the plaintext bytes [first*chunkSize, end) of src into
// buf, which must have room for them (sealedOffset(last+1) -
// sealedOffset(first) bytes, plus the header when first is 0), and
// returns the sealed bytes: the header when first is 0, then the chunks.
// end is the plaintext end of this run of chunks; size is the whole
// object's plaintext size, or -1 if it is known to lie beyond end (then
// end must be a chunk boundary and no chunk here is final). The plaintext
// is read straight into buf and sealed in place.
func (s *sealer) sealChunks(buf []byte, src io.ReaderAt, first, end, size int64) ([]byte, error) {
	out := buf[:0]
	if first == 0 {
		out = append(out, s.header()...)
	}
	final := int64(-1)
	if size >= 0 {
		final = numChunks(size) - 1
	}
	for i := first; i < numChunks(end); i++ {
		off := i * chunkSize
		n := min(end-off, chunkSize)
		p := out[len(out) : len(out)+int(n)]
		if n > 0 {
			if _, err := src.ReadAt(p, off); err == io.EOF {
				return nil, fmt.Errorf("reading %d bytes at %d: %w", n, off, io.ErrUnexpectedEOF)
			} else if err != nil {
				return nil, err
			}
		}
		out = s.seal(out, i, i == final, p)
	}
	return out, nil
}

// sealAll returns the whole sealed object of plaintext p.
func (s *sealer) sealAll(p []byte) []byte {
	out := make([]byte, 0, sealedSize(int64(len(p))))
	out = append(out, s.header()...)
	last := numChunks(int64(len(p))) - 1
	for i := int64(0); i <= last; i++ {
		c := p[i*chunkSize : min(int64(len(p)), (i+1)*chunkSize)]
		out = s.seal(out, i, i == last, c)
	}
	return out
}

// openAll returns the plaintext of the whole sealed object b stored under
// name, or an error wrapping ErrTampered.
func openAll(sealKey *[32]byte, name string, b []byte) ([]byte, error) {
	n, ok := plainSize(int64(len(b)))
	if !ok {
		return nil, fmt.Errorf("stored size %d is no sealed size: %w", len(b), ErrTampered)
	}
	salt, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	s := newSealer(sealKey, salt, name)
	out := make([]byte, 0, n)
	last := numChunks(n) - 1
	for i := int64(0); i <= last; i++ {
		start := sealedOffset(i)
		end := min(int64(len(b)), start+sealedChunk)
		if out, err = s.open(out, i, i == last, b[start:end]); err != nil {
			return nil, err
		}
	}
	return out, nil
}
