package node

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/nurl"
)

// ErrIdentity is wrapped by every error about a node's key files.
var ErrIdentity = errors.New("bad node identity")

// Names of the identity files, as Tahoe names them.
const (
	NodePEMFile     = "node.pem"     // in private/: TLS certificate and key
	NodePrivKeyFile = "node.privkey" // in private/: Ed25519 signing key
	NodePubKeyFile  = "node.pubkey"  // in BASEDIR: its public key
	MyNodeIDFile    = "my_nodeid"    // in BASEDIR: the tub ID
)

// Identity is a node's long-lived identity: the TLS certificate that Foolscap
// and the HTTPS storage protocol present (whose hashes give the tub ID and
// the NURL's SPKI hash), and the Ed25519 key that signs announcements.
type Identity struct {
	// TLSCert is private/node.pem, ready for a tls.Config.
	TLSCert tls.Certificate
	// Cert is its parsed leaf certificate.
	Cert *x509.Certificate
	// TubID is Foolscap's tub ID: lower-case base32 of SHA-1 of the
	// certificate's DER, 32 characters.
	TubID string
	// NodeID is the same SHA-1 as raw bytes (Tahoe's node.nodeid).
	NodeID lafs.NodeID
	// SPKIHash pins the certificate in NURLs (nurl.SPKIHash): unpadded
	// URL-safe base64 of SHA-256 of the DER SubjectPublicKeyInfo.
	SPKIHash string
	// SigningKey is private/node.privkey; PublicKey is BASEDIR/node.pubkey.
	SigningKey ed25519.PrivateKey
	PublicKey  ed25519.PublicKey
}

// LongNodeID returns the node's ID as announcements and servers.yaml name
// it: "v0-" and the base32 of the Ed25519 public key.
func (id *Identity) LongNodeID() string {
	return "v0-" + lafs.Base32(id.PublicKey)
}

// LoadOrCreateIdentity loads the identity of the node in basedir, creating
// what is missing: private/ (0700), private/node.pem (0600),
// private/node.privkey (0600). Existing key files are used as they are and
// never replaced, so a Tahoe node directory keeps its identity. Like Tahoe
// at every start, it then writes the derived BASEDIR/node.pubkey
// ("pub-v0-...") and BASEDIR/my_nodeid (the tub ID), both 0644, when they
// differ from what they should hold.
func LoadOrCreateIdentity(basedir string) (*Identity, error) {
	priv, err := privateDir(basedir)
	if err != nil {
		return nil, err
	}
	pemPath := filepath.Join(priv, NodePEMFile)
	pemData, err := loadOrCreate(pemPath, secretFileMode, GenerateNodePEM)
	if err != nil {
		return nil, err
	}
	cert, err := ParseNodePEM(pemData)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pemPath, err)
	}
	keyPath := filepath.Join(priv, NodePrivKeyFile)
	keyData, err := loadOrCreate(keyPath, secretFileMode, func() ([]byte, error) {
		_, sk, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		return []byte(crypt.FormatEd25519PrivateKey(sk) + "\n"), nil
	})
	if err != nil {
		return nil, err
	}
	sk, err := crypt.ParseEd25519PrivateKey(string(keyData))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrIdentity, keyPath, err)
	}
	id, err := newIdentity(cert, sk)
	if err != nil {
		return nil, err
	}
	pub := []byte(crypt.FormatEd25519PublicKey(id.PublicKey) + "\n")
	if err := updateFile(filepath.Join(basedir, NodePubKeyFile), pub, publicFileMode); err != nil {
		return nil, err
	}
	if err := updateFile(filepath.Join(basedir, MyNodeIDFile), []byte(id.TubID+"\n"), publicFileMode); err != nil {
		return nil, err
	}
	return id, nil
}

// GenerateIdentity makes a new identity in memory, writing nothing.
func GenerateIdentity() (*Identity, error) {
	pemData, err := GenerateNodePEM()
	if err != nil {
		return nil, err
	}
	cert, err := ParseNodePEM(pemData)
	if err != nil {
		return nil, err
	}
	_, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return newIdentity(cert, sk)
}

func newIdentity(cert tls.Certificate, sk ed25519.PrivateKey) (*Identity, error) {
	spki, err := nurl.SPKIHash(cert.Leaf)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIdentity, err)
	}
	id := &Identity{
		TLSCert:    cert,
		Cert:       cert.Leaf,
		SPKIHash:   spki,
		SigningKey: sk,
		PublicKey:  sk.Public().(ed25519.PublicKey),
	}
	id.TubID, id.NodeID = TubID(cert.Leaf.Raw)
	return id, nil
}

// Foolscap's certificate (foolscap/crypto.py createCertificate): its
// subject and issuer, serial number and lifetime (Twisted's default of one
// year). Peers ignore validity dates: Foolscap and Tahoe's HTTPS client
// accept expired certificates, and so must ours.
const (
	foolscapCommonName = "newpb_thingy"
	foolscapCertLife   = 365 * 24 * time.Hour
)

// GenerateNodePEM makes a node.pem as Foolscap does: a new RSA-2048 key and
// a self-signed SHA-256 certificate for it with subject and issuer
// CN=newpb_thingy and serial number 1, valid for a year from now; the
// certificate's PEM block first, then the key's (PKCS#8, "PRIVATE KEY").
// Foolscap's certificate is X.509 v1 and this one v3 without extensions;
// neither side cares.
func GenerateNodePEM() ([]byte, error) {
	key, err := crypt.GenerateRSAKey()
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:       big.NewInt(1),
		Subject:            pkix.Name{CommonName: foolscapCommonName},
		NotBefore:          now,
		NotAfter:           now.Add(foolscapCertLife),
		SignatureAlgorithm: x509.SHA256WithRSA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := crypt.MarshalRSAPrivateKey(key)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...), nil
}

// ParseNodePEM reads a node.pem as Foolscap does: the first CERTIFICATE
// block is the node's certificate and the first private key block
// ("PRIVATE KEY" PKCS#8, "RSA PRIVATE KEY" PKCS#1, "EC PRIVATE KEY") its
// key, in either order, and the key must match the certificate. Other
// blocks and text between blocks are ignored. The result's Leaf is set.
func ParseNodePEM(data []byte) (tls.Certificate, error) {
	var certDER []byte
	var keyPEM []byte
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE" && certDER == nil:
			certDER = b.Bytes
		case (b.Type == "PRIVATE KEY" || strings.HasSuffix(b.Type, " PRIVATE KEY")) && keyPEM == nil:
			keyPEM = pem.EncodeToMemory(b)
		}
	}
	if certDER == nil {
		return tls.Certificate{}, fmt.Errorf("%w: no CERTIFICATE block in node.pem", ErrIdentity)
	}
	if keyPEM == nil {
		return tls.Certificate{}, fmt.Errorf("%w: no private key block in node.pem", ErrIdentity)
	}
	cert, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}), keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%w: node.pem: %v", ErrIdentity, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(certDER); err != nil {
			return tls.Certificate{}, fmt.Errorf("%w: node.pem: %v", ErrIdentity, err)
		}
	}
	return cert, nil
}

// TubID returns Foolscap's tub ID for a certificate's DER: the lower-case
// base32 of its SHA-1 (32 characters), and that SHA-1.
func TubID(certDER []byte) (string, lafs.NodeID) {
	sum := sha1.Sum(certDER)
	return lafs.Base32(sum[:]), sum
}

// readTrimmed reads a small text file and strips surrounding whitespace,
// as Tahoe's get_private_config does.
func readTrimmed(path string) (string, error) {
	b, err := os.ReadFile(path)
	return pyStrip(string(b)), err
}
