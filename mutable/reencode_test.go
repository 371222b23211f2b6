package mutable

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"io"
	"math/big"
	"testing"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
)

// recoverKeys decrypts a share's encrypted private key with the cap's
// write key, as a writer does, and checks that it derives the cap.
func recoverKeys(t *testing.T, c cap.Cap, s *Share) *Keys {
	t.Helper()
	w, ok := c.(*cap.MutableWrite)
	if !ok {
		t.Fatalf("%v is not a write cap", c)
	}
	der := append([]byte(nil), s.EncPrivKey...)
	if err := crypt.XORCTR(w.WriteKey[:], der); err != nil {
		t.Fatal(err)
	}
	priv, err := crypt.ParseRSAPrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	k, err := DeriveKeys(priv)
	if err != nil {
		t.Fatal(err)
	}
	if k.WriteKey != w.WriteKey || k.Fingerprint != w.Fingerprint {
		t.Fatal("recovered key does not derive the cap")
	}
	if !bytes.Equal(k.PublicDER, s.VerificationKey) {
		t.Fatal("Go's SPKI DER differs from the share's verification key")
	}
	if !bytes.Equal(k.EncryptedPrivateKey(), s.EncPrivKey) {
		t.Fatal("Go's PKCS#8 DER differs from the share's (encrypted) private key")
	}
	return k
}

// pssSalt recovers the 32-byte salt of an RSA-PSS-SHA256 signature with the
// public key (RFC 8017 EMSA-PSS-VERIFY, steps 1 to 10), so that a test can
// sign again and get the same bytes.
func pssSalt(t *testing.T, pub *rsa.PublicKey, sig []byte) []byte {
	t.Helper()
	m := new(big.Int).Exp(new(big.Int).SetBytes(sig), big.NewInt(int64(pub.E)), pub.N)
	em := m.FillBytes(make([]byte, pub.Size()))
	const hLen = sha256.Size
	if em[len(em)-1] != 0xbc {
		t.Fatal("not a PSS encoding")
	}
	dbLen := len(em) - hLen - 1
	db, hh := em[:dbLen], em[dbLen:dbLen+hLen]
	// MGF1-SHA256(H) unmasks DB.
	for c, done := uint32(0), 0; done < dbLen; c++ {
		d := sha256.Sum256(append(append([]byte(nil), hh...), byte(c>>24), byte(c>>16), byte(c>>8), byte(c)))
		for i := 0; i < len(d) && done < dbLen; i++ {
			db[done] ^= d[i]
			done++
		}
	}
	db[0] &= 0x7f // emBits = 2047
	salt := db[dbLen-32:]
	if db[dbLen-33] != 1 {
		t.Fatal("PSS padding is not PS || 0x01 || salt(32)")
	}
	return salt
}

// tahoeRand replays the randomness Tahoe used for a share: its salts in
// segment order, then the signature's PSS salt.
func tahoeRand(t *testing.T, s *Share, pub *rsa.PublicKey) io.Reader {
	var b []byte
	if s.Version == MDMFVersion {
		for _, salt := range s.Salts {
			b = append(b, salt[:]...)
		}
	} else {
		b = append(b, s.Salt[:]...)
	}
	return io.MultiReader(bytes.NewReader(b), bytes.NewReader(pssSalt(t, pub, s.Signature)))
}

// TestReencodeIsByteIdentical encodes the grid's SDMF and MDMF files again,
// with the key recovered from their shares, the same salts, seqnum, k, N
// and segment size: every share must equal Tahoe's byte for byte.
func TestReencodeIsByteIdentical(t *testing.T) {
	for _, f := range append(gridFiles(t), oldFiles(t)...) {
		if f.plaintext == nil {
			continue // directories: see TestGridDirectories
		}
		checkReencode(t, f, f.plaintext)
	}
}

func checkReencode(t *testing.T, f tahoeFile, plaintext []byte) {
	t.Helper()
	s0, err := ParseShare(f.shares[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.cap.(*cap.MutableWrite); !ok {
		t.Logf("%s: read cap only, checking blocks and hashes but not the key", f.name)
	}
	var keys *Keys
	if _, ok := f.cap.(*cap.MutableWrite); ok {
		keys = recoverKeys(t, f.cap, s0)
	} else {
		return
	}
	shares, err := encodeVersion(keys, s0.Version, s0.Seqnum, s0.K, s0.N, int(s0.SegmentSize), plaintext, tahoeRand(t, s0, &keys.Private.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: re-encoding %d shares, verification key %d bytes", f.name, len(f.shares), len(keys.PublicDER))
	for sh, want := range f.shares {
		got, err := shares[sh].Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s share %d: re-encoded share differs (%d vs %d bytes) at byte %d", f.name, sh, len(got), len(want), firstDiff(got, want))
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
