package mutable

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/internal/tahoevec"
)

// TestSSKVectors derives all 240 SDMF and MDMF caps of Tahoe's
// test_vectors.yaml from their RSA keys.
func TestSSKVectors(t *testing.T) {
	n := 0
	for _, c := range tahoevec.Cases(t) {
		if c.Kind != "ssk" {
			continue
		}
		n++
		priv, err := crypt.ParseRSAPrivateKey([]byte(c.KeyPEM))
		if err != nil {
			t.Fatalf("vector %d: %v", c.Index, err)
		}
		k, err := DeriveKeys(priv)
		if err != nil {
			t.Fatal(err)
		}
		f := cap.SDMF
		if c.Format == "mdmf" {
			f = cap.MDMF
		}
		if got := k.WriteCap(f).String(); got != c.Expected {
			t.Errorf("vector %d (%s): got %s want %s", c.Index, c.Format, got, c.Expected)
		}
		parsed, err := cap.Parse(c.Expected)
		if err != nil {
			t.Fatal(err)
		}
		si, _ := cap.StorageIndex(parsed)
		if si != k.StorageIndex {
			t.Errorf("vector %d: storage index differs", c.Index)
		}
		rc := parsed.ReadOnly().(*cap.MutableRead)
		if rc.ReadKey != k.ReadKey {
			t.Errorf("vector %d: read key differs", c.Index)
		}
		// The encrypted private key decrypts to the same DER.
		enc := k.EncryptedPrivateKey()
		if bytes.Equal(enc, k.PrivateDER) {
			t.Fatal("private key not encrypted")
		}
		if err := crypt.XORCTR(k.WriteKey[:], enc); err != nil || !bytes.Equal(enc, k.PrivateDER) {
			t.Fatalf("vector %d: encrypted private key does not decrypt", c.Index)
		}
	}
	if n != 240 {
		t.Errorf("found %d SSK vectors, want 240", n)
	}
}

func TestRejectsOtherKeySizes(t *testing.T) {
	// Tahoe refuses signing keys that are not 2048 bits.
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(small)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crypt.ParseRSAPrivateKey(der); !errors.Is(err, crypt.ErrKey) || !strings.Contains(err.Error(), "1024 bits") {
		t.Errorf("1024-bit key: err = %v", err)
	}
	if _, err := DeriveKeys(small); !errors.Is(err, crypt.ErrKey) {
		t.Errorf("DeriveKeys of a 1024-bit key: err = %v", err)
	}
	if _, err := crypt.ParseRSAPrivateKey([]byte("not a key")); !errors.Is(err, crypt.ErrKey) {
		t.Errorf("garbage key: err = %v", err)
	}
}
