package lafs

import (
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
)

// Tahoe's base32, the spelling of every storage index, key and hash in
// caps, folder names and announcements: RFC 4648's alphabet in lower case,
// without padding.

// ErrBase32 is wrapped by every base32 decoding error.
var ErrBase32 = errors.New("invalid base32")

const base32Alphabet = "abcdefghijklmnopqrstuvwxyz234567"

var b32 = base32.NewEncoding(base32Alphabet).WithPadding(base32.NoPadding)

// Base32 encodes b in Tahoe's base32.
func Base32(b []byte) string { return b32.EncodeToString(b) }

// Base32Len is the length of the base32 form of n bytes.
func Base32Len(n int) int { return b32.EncodedLen(n) }

// ParseBase32 decodes Tahoe base32 strictly, as Tahoe's regular expressions
// accept it: lower case only, no padding, a length that some byte string
// encodes to, and the unused low bits of the last character zero. So every
// byte string has exactly one accepted spelling.
func ParseBase32(s string) ([]byte, error) {
	switch len(s) % 8 {
	case 1, 3, 6:
		return nil, fmt.Errorf("%w: %d characters is not the length of any encoding", ErrBase32, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return nil, fmt.Errorf("%w: character %q at %d", ErrBase32, c, i)
		}
	}
	if len(s) > 0 {
		// Bits used by the last character: 8*bytes - 5*(chars-1).
		unused := (5*len(s) - 8*(5*len(s)/8))
		last := strings.IndexByte(base32Alphabet, s[len(s)-1])
		if last&(1<<unused-1) != 0 {
			return nil, fmt.Errorf("%w: non-zero trailing bits in %q", ErrBase32, s[len(s)-1])
		}
	}
	b, err := b32.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBase32, err)
	}
	return b, nil
}

// ParseBase32Len decodes s as ParseBase32 does and also requires that it
// holds exactly n bytes.
func ParseBase32Len(s string, n int) ([]byte, error) {
	if len(s) != Base32Len(n) {
		return nil, fmt.Errorf("%w: %d characters, want %d for %d bytes", ErrBase32, len(s), Base32Len(n), n)
	}
	return ParseBase32(s)
}

// String returns the storage index in Tahoe's base32, as servers name their
// share folders and as `tahoe debug dump-cap` prints it.
func (si StorageIndex) String() string { return Base32(si[:]) }

// ParseStorageIndex reads a storage index in the one spelling String
// gives it.
func ParseStorageIndex(s string) (StorageIndex, error) {
	var si StorageIndex
	b, err := ParseBase32Len(s, len(si))
	if err != nil {
		return si, fmt.Errorf("storage index: %w", err)
	}
	copy(si[:], b)
	return si, nil
}
