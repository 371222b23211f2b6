package crypt

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/lafs/lafs"
)

// RSAKeyBits is the only RSA key size Tahoe accepts for mutable files.
const RSAKeyBits = 2048

// ErrKey is wrapped by every key parsing error.
var ErrKey = errors.New("invalid key")

// GenerateRSAKey makes a new 2048-bit RSA key with e = 65537.
func GenerateRSAKey() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, RSAKeyBits)
}

// MarshalRSAPrivateKey encodes key as unencrypted PKCS#8 DER, the form that
// mutable write keys are hashed from and that shares store encrypted.
func MarshalRSAPrivateKey(key *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal rsa key: %w", err)
	}
	return der, nil
}

// MarshalRSAPublicKey encodes pub as X.509 SubjectPublicKeyInfo DER, the form
// that mutable fingerprints are hashed from.
func MarshalRSAPublicKey(pub *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal rsa public key: %w", err)
	}
	return der, nil
}

// ParseRSAPrivateKey parses a PKCS#8 or PKCS#1 DER (or PEM) RSA private key
// and requires it to be 2048 bits, as Tahoe does.
func ParseRSAPrivateKey(b []byte) (*rsa.PrivateKey, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(b); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%w: PKCS#8 key is %T, not RSA", ErrKey, k)
		}
		key = rk
	} else if k, err2 := x509.ParsePKCS1PrivateKey(b); err2 == nil {
		key = k
	} else {
		return nil, fmt.Errorf("%w: not a PKCS#8 or PKCS#1 RSA private key: %v", ErrKey, err)
	}
	if key.N.BitLen() != RSAKeyBits {
		return nil, fmt.Errorf("%w: RSA key is %d bits, need %d", ErrKey, key.N.BitLen(), RSAKeyBits)
	}
	return key, nil
}

// ParseRSAPublicKey parses a SubjectPublicKeyInfo DER RSA public key.
func ParseRSAPublicKey(der []byte) (*rsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: public key is %T, not RSA", ErrKey, k)
	}
	return pub, nil
}

// Ed25519 key and signature string prefixes, as Tahoe's crypto/ed25519.py writes them.
const (
	ed25519PrivPrefix = "priv-v0-"
	ed25519PubPrefix  = "pub-v0-"
)

// FormatEd25519PrivateKey writes key as "priv-v0-" + base32(seed).
func FormatEd25519PrivateKey(key ed25519.PrivateKey) string {
	return ed25519PrivPrefix + lafs.Base32(key.Seed())
}

// FormatEd25519PublicKey writes pub as "pub-v0-" + base32(key).
func FormatEd25519PublicKey(pub ed25519.PublicKey) string {
	return ed25519PubPrefix + lafs.Base32(pub)
}

// ParseEd25519PrivateKey reads a "priv-v0-" key string (surrounding space allowed).
func ParseEd25519PrivateKey(s string) (ed25519.PrivateKey, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, ed25519PrivPrefix) {
		return nil, fmt.Errorf("%w: Ed25519 private key must start with %q", ErrKey, ed25519PrivPrefix)
	}
	seed, err := lafs.ParseBase32Len(s[len(ed25519PrivPrefix):], ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("%w: Ed25519 private key: %v", ErrKey, err)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// ParseEd25519PublicKey reads a "pub-v0-" key string.
func ParseEd25519PublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, ed25519PubPrefix) {
		return nil, fmt.Errorf("%w: Ed25519 public key must start with %q", ErrKey, ed25519PubPrefix)
	}
	b, err := lafs.ParseBase32Len(s[len(ed25519PubPrefix):], ed25519.PublicKeySize)
	if err != nil {
		return nil, fmt.Errorf("%w: Ed25519 public key: %v", ErrKey, err)
	}
	return ed25519.PublicKey(b), nil
}
