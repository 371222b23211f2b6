package crypt

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
)

// NewCTR returns AES-CTR with key (16 or 32 bytes) and Tahoe's IV of 16 zero
// bytes, so XORKeyStream applied piece by piece equals one call over the whole.
func NewCTR(key []byte) (cipher.Stream, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes key: %w", err)
	}
	return cipher.NewCTR(block, make([]byte, aes.BlockSize)), nil
}

// NewCTRAt returns AES-CTR with a zero IV positioned at byte offset off of the
// key stream, for decrypting a range of a file without the bytes before it.
func NewCTRAt(key []byte, off int64) (cipher.Stream, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes key: %w", err)
	}
	var iv [aes.BlockSize]byte
	ctr := uint64(off / aes.BlockSize)
	for i := 0; i < 8; i++ {
		iv[15-i] = byte(ctr >> (8 * i))
	}
	s := cipher.NewCTR(block, iv[:])
	if skip := int(off % aes.BlockSize); skip > 0 {
		var junk [aes.BlockSize]byte
		s.XORKeyStream(junk[:skip], junk[:skip])
	}
	return s, nil
}

// XORCTR encrypts or decrypts b in place with AES-CTR under key and a zero IV.
func XORCTR(key, b []byte) error {
	s, err := NewCTR(key)
	if err != nil {
		return err
	}
	s.XORKeyStream(b, b)
	return nil
}
