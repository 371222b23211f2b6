package node

import (
	"bytes"
	"crypto"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
)

// foolscapCert builds a certificate the way pyOpenSSL does for Foolscap:
// X.509 v1 (no version field, no extensions), subject and issuer
// CN=newpb_thingy, serial 1. Foolscap before 0.8 (2015) made 1024-bit keys
// signed with MD5; since then 2048-bit keys and SHA-256.
func foolscapCert(t *testing.T, bits int, md5Signed bool) (*rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	name, err := asn1.Marshal(pkix.Name{CommonName: foolscapCommonName}.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	alg := pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, Parameters: asn1.NullRawValue}
	if md5Signed {
		alg.Algorithm = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 4}
	}
	now := time.Now().UTC().Truncate(time.Second)
	tbs, err := asn1.Marshal(struct {
		Serial   *big.Int
		Alg      pkix.AlgorithmIdentifier
		Issuer   asn1.RawValue
		Validity struct{ NotBefore, NotAfter time.Time }
		Subject  asn1.RawValue
		SPKI     asn1.RawValue
	}{big.NewInt(1), alg, asn1.RawValue{FullBytes: name},
		struct{ NotBefore, NotAfter time.Time }{now, now.Add(365 * 24 * time.Hour)},
		asn1.RawValue{FullBytes: name}, asn1.RawValue{FullBytes: spki}})
	if err != nil {
		t.Fatal(err)
	}
	var sig []byte
	if md5Signed {
		sum := md5.Sum(tbs)
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.MD5, sum[:])
	} else {
		sum := sha256.Sum256(tbs)
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(struct {
		TBS asn1.RawValue
		Alg pkix.AlgorithmIdentifier
		Sig asn1.BitString
	}{asn1.RawValue{FullBytes: tbs}, alg, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParseNodePEMLayouts(t *testing.T) {
	key, der := foolscapCert(t, 2048, false)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PrivateKey(key)
	cert := pemBlock("CERTIFICATE", der)
	layouts := map[string][]byte{
		"cert then PKCS#8 key (Foolscap)": append(append([]byte{}, cert...), pemBlock("PRIVATE KEY", pkcs8)...),
		"PKCS#8 key then cert":            append(pemBlock("PRIVATE KEY", pkcs8), cert...),
		"cert then PKCS#1 key":            append(append([]byte{}, cert...), pemBlock("RSA PRIVATE KEY", pkcs1)...),
		"PKCS#1 key then cert":            append(pemBlock("RSA PRIVATE KEY", pkcs1), cert...),
		"with text around":                []byte("junk\n" + string(cert) + "more\n" + string(pemBlock("PRIVATE KEY", pkcs8)) + "trailer"),
		"CRLF":                            bytes.ReplaceAll(append(append([]byte{}, cert...), pemBlock("PRIVATE KEY", pkcs8)...), []byte("\n"), []byte("\r\n")),
	}
	sum := sha1.Sum(der)
	wantTubID := lafs.Base32(sum[:])
	for name, data := range layouts {
		c, err := ParseNodePEM(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if c.Leaf == nil || !bytes.Equal(c.Leaf.Raw, der) || c.Leaf.Subject.CommonName != foolscapCommonName {
			t.Errorf("%s: wrong leaf", name)
		}
		if tubID, _ := TubID(c.Certificate[0]); tubID != wantTubID {
			t.Errorf("%s: tub ID %s, want %s", name, tubID, wantTubID)
		}
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherPKCS8, _ := x509.MarshalPKCS8PrivateKey(other)
	bad := map[string][]byte{
		"empty":          nil,
		"cert only":      cert,
		"key only":       pemBlock("PRIVATE KEY", pkcs8),
		"mismatched key": append(append([]byte{}, cert...), pemBlock("PRIVATE KEY", otherPKCS8)...),
		"garbage cert":   append(pemBlock("CERTIFICATE", []byte("nope")), pemBlock("PRIVATE KEY", pkcs8)...),
	}
	for name, data := range bad {
		if _, err := ParseNodePEM(data); !errors.Is(err, ErrIdentity) {
			t.Errorf("%s: got %v, want ErrIdentity", name, err)
		}
	}
}

// TestOldFoolscapPEM loads a node.pem as Foolscap made them before 2015:
// a 1024-bit key and an MD5-signed v1 certificate.
func TestOldFoolscapPEM(t *testing.T) {
	key, der := foolscapCert(t, 1024, true)
	data := append(pemBlock("CERTIFICATE", der), pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key))...)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "private"), 0o700)
	if err := os.WriteFile(filepath.Join(dir, "private", NodePEMFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	id, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(der)
	if id.NodeID != sum || id.TubID != lafs.Base32(sum[:]) {
		t.Errorf("tub ID %s", id.TubID)
	}
	// The file is used as it is: not rewritten, modes untouched.
	got, _ := os.ReadFile(filepath.Join(dir, "private", NodePEMFile))
	st, _ := os.Stat(filepath.Join(dir, "private", NodePEMFile))
	if !bytes.Equal(got, data) || st.Mode().Perm() != 0o644 {
		t.Error("existing node.pem was changed")
	}
}

func TestGenerateNodePEM(t *testing.T) {
	data, err := GenerateNodePEM()
	if err != nil {
		t.Fatal(err)
	}
	// Foolscap's layout: the certificate, then a PKCS#8 key.
	b1, rest := pem.Decode(data)
	b2, rest := pem.Decode(rest)
	if b1 == nil || b2 == nil || b1.Type != "CERTIFICATE" || b2.Type != "PRIVATE KEY" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("layout:\n%s", data)
	}
	cert, err := x509.ParseCertificate(b1.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParsePKCS8PrivateKey(b2.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok || rk.N.BitLen() != 2048 || rk.E != 65537 {
		t.Fatalf("key %T", key)
	}
	if cert.Subject.CommonName != "newpb_thingy" || cert.Issuer.CommonName != "newpb_thingy" ||
		cert.SerialNumber.Cmp(big.NewInt(1)) != 0 || cert.SignatureAlgorithm != x509.SHA256WithRSA {
		t.Errorf("certificate: %v %v %v %v", cert.Subject, cert.Issuer, cert.SerialNumber, cert.SignatureAlgorithm)
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	if life := cert.NotAfter.Sub(cert.NotBefore); life != 365*24*time.Hour {
		t.Errorf("lifetime %v", life)
	}
}

func TestLoadOrCreateIdentity(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	id, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	modes := map[string]os.FileMode{
		"private":                    0o700 | os.ModeDir,
		"private/" + NodePEMFile:     0o600,
		"private/" + NodePrivKeyFile: 0o600,
		NodePubKeyFile:               0o644,
		MyNodeIDFile:                 0o644,
	}
	for name, mode := range modes {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", name, st.Mode(), mode)
		}
	}
	if len(id.TubID) != 32 || strings.ToLower(id.TubID) != id.TubID {
		t.Errorf("tub ID %q", id.TubID)
	}
	sum := sha1.Sum(id.Cert.Raw)
	if id.NodeID != sum || id.TubID != lafs.Base32(sum[:]) {
		t.Error("tub ID is not base32(SHA-1(cert DER))")
	}
	if id.TLSCert.Leaf != id.Cert || len(id.TLSCert.Certificate) != 1 {
		t.Error("TLS certificate")
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read(MyNodeIDFile); got != id.TubID+"\n" {
		t.Errorf("my_nodeid %q", got)
	}
	if got := read(NodePubKeyFile); got != crypt.FormatEd25519PublicKey(id.PublicKey)+"\n" || !strings.HasPrefix(got, "pub-v0-") {
		t.Errorf("node.pubkey %q", got)
	}
	if got := read("private/" + NodePrivKeyFile); got != crypt.FormatEd25519PrivateKey(id.SigningKey)+"\n" || !strings.HasPrefix(got, "priv-v0-") {
		t.Errorf("node.privkey %q", got)
	}
	if id.LongNodeID() != "v0-"+strings.TrimPrefix(strings.TrimSpace(read(NodePubKeyFile)), "pub-v0-") {
		t.Errorf("long node ID %q", id.LongNodeID())
	}

	// Loading again gives the same identity and leaves the files alone.
	pemBefore := read("private/" + NodePEMFile)
	again, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.TubID != id.TubID || !again.PublicKey.Equal(id.PublicKey) || again.SPKIHash != id.SPKIHash || read("private/"+NodePEMFile) != pemBefore {
		t.Error("identity changed on reload")
	}

	// Derived files are rewritten from the keys, as Tahoe does.
	os.WriteFile(filepath.Join(dir, MyNodeIDFile), []byte("stale\n"), 0o644)
	os.Remove(filepath.Join(dir, NodePubKeyFile))
	if _, err := LoadOrCreateIdentity(dir); err != nil {
		t.Fatal(err)
	}
	if read(MyNodeIDFile) != id.TubID+"\n" || read(NodePubKeyFile) != crypt.FormatEd25519PublicKey(id.PublicKey)+"\n" {
		t.Error("derived files not restored")
	}

	// A bad key file is an error, not a reason to make a new key.
	os.WriteFile(filepath.Join(dir, "private", NodePrivKeyFile), []byte("priv-v0-junk\n"), 0o600)
	if _, err := LoadOrCreateIdentity(dir); !errors.Is(err, ErrIdentity) {
		t.Errorf("bad node.privkey: %v", err)
	}
	if read("private/"+NodePrivKeyFile) != "priv-v0-junk\n" {
		t.Error("bad node.privkey was replaced")
	}
}

func TestTahoeNodePrivKey(t *testing.T) {
	// A node.privkey as Tahoe writes it is read as it is.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "private"), 0o700)
	seed := bytes.Repeat([]byte{7}, 32)
	text := "priv-v0-" + lafs.Base32(seed) + "\n"
	os.WriteFile(filepath.Join(dir, "private", NodePrivKeyFile), []byte(text), 0o600)
	id, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(id.SigningKey.Seed(), seed) {
		t.Error("wrong key")
	}
}

func TestSPKIHashOfIdentity(t *testing.T) {
	id, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(id.Cert.RawSubjectPublicKeyInfo)
	if want := base64.RawURLEncoding.EncodeToString(sum[:]); id.SPKIHash != want || len(id.SPKIHash) != 43 {
		t.Errorf("SPKI hash %q, want %q", id.SPKIHash, want)
	}
}

func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	s, err := LoadOrCreateSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Lease) != 32 || len(s.Convergence) != 32 || bytes.Equal(s.Lease, s.Convergence) {
		t.Errorf("secrets %x %x", s.Lease, s.Convergence)
	}
	for _, name := range []string{LeaseSecretFile, ConvergenceSecretFile} {
		p := filepath.Join(dir, "private", name)
		b, _ := os.ReadFile(p)
		st, _ := os.Stat(p)
		if len(b) != 53 || b[52] != '\n' || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %q %v", name, b, st.Mode())
		}
	}
	again, err := LoadOrCreateSecrets(dir)
	if err != nil || !bytes.Equal(again.Lease, s.Lease) || !bytes.Equal(again.Convergence, s.Convergence) {
		t.Error("secrets changed on reload")
	}
	// An empty convergence file means the empty secret.
	os.WriteFile(filepath.Join(dir, "private", ConvergenceSecretFile), nil, 0o600)
	if again, err = LoadOrCreateSecrets(dir); err != nil || len(again.Convergence) != 0 || again.Convergence == nil {
		t.Errorf("empty convergence: %x %v", again.Convergence, err)
	}
	// Tahoe's base32 is strict.
	for _, bad := range []string{"ABC\n", "aaab\n", "!!"} {
		os.WriteFile(filepath.Join(dir, "private", LeaseSecretFile), []byte(bad), 0o600)
		if _, err := LoadOrCreateSecrets(dir); !errors.Is(err, ErrIdentity) {
			t.Errorf("lease secret %q: %v", bad, err)
		}
	}
}

func TestPermutationSeedAndToken(t *testing.T) {
	dir := t.TempDir()
	id, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Tahoe's seed is the base32 of the key's base32 text (84 characters).
	want := lafs.Base32([]byte(lafs.Base32(id.PublicKey)))
	seed, err := LoadOrCreatePermutationSeed(dir, id, false)
	if err != nil || seed != want || len(seed) != 84 {
		t.Errorf("seed %q %v", seed, err)
	}
	if seed, _ = LoadOrCreatePermutationSeed(dir, id, true); seed != want {
		t.Error("seed changed")
	}
	os.WriteFile(filepath.Join(dir, PermutationSeedFile), []byte("\n"), 0o644)
	if seed, _ = LoadOrCreatePermutationSeed(dir, id, true); seed != id.TubID {
		t.Errorf("old server's seed %q", seed)
	}

	tok, err := WriteAPIAuthToken(dir)
	if err != nil || len(tok) != 44 {
		t.Fatalf("token %q %v", tok, err)
	}
	if got, err := ReadAPIAuthToken(dir); err != nil || got != tok {
		t.Errorf("read token %q %v", got, err)
	}
	if tok2, _ := WriteAPIAuthToken(dir); tok2 == tok {
		t.Error("token not renewed")
	}
}

func TestLoadOrCreateSecretPath(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a", "b", "secret")
	s, err := LoadOrCreateSecret(p)
	if err != nil || len(s) != 32 {
		t.Fatalf("%x %v", s, err)
	}
	again, err := LoadOrCreateSecret(p)
	if err != nil || !bytes.Equal(again, s) {
		t.Error("secret changed")
	}
	st, _ := os.Stat(filepath.Dir(p))
	if st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v", st.Mode())
	}
}
