package nurl

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
)

// ErrPin is wrapped by the error of a connection refused because the
// server's certificate is not the one its NURL pins (or not one
// well-formed self-signed certificate).
var ErrPin = errors.New("server certificate does not match the NURL")

// SPKIHash returns the hash that a NURL pins a certificate by, as Tahoe's
// storage/http_common.py get_spki_hash computes it: the unpadded base64url
// encoding of the SHA-256 of the DER SubjectPublicKeyInfo of the
// certificate's public key, re-encoded as Python's cryptography does
// (RFC 7469's sha256 pin). For the certificates Foolscap, Tahoe and lafs
// make, the re-encoding is byte for byte the certificate's own. It fails
// for a key Go cannot encode (DSA, an unknown algorithm).
func SPKIHash(cert *x509.Certificate) (string, error) {
	h, err := spkiSum(cert)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(h[:]), nil
}

func spkiSum(cert *x509.Certificate) ([32]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(cert.PublicKey)
	if err != nil {
		return [32]byte{}, fmt.Errorf("SPKI hash of a %v key: %v", cert.PublicKeyAlgorithm, err)
	}
	return sha256.Sum256(der), nil
}

// decodeSPKIHash decodes a pin, requiring its one canonical spelling.
func decodeSPKIHash(s string) ([32]byte, error) {
	var h [32]byte
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("SPKI hash %q is not 43 characters of unpadded base64url (32 bytes)", s)
	}
	copy(h[:], b)
	return h, nil
}

// ServerTLSConfig is the TLS configuration of a server that a NURL names,
// presenting cert (the node's private/node.pem): TLS 1.2 or 1.3, HTTP/1.1,
// no client certificates (Tahoe's HTTP server asks for none).
func ServerTLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
}

// ClientTLSConfig is the TLS configuration of a client of the server that
// spkiHash (a NURL's pin) names. There is no CA validation; instead, as in
// Tahoe's _TLSContextFactory, the server must present exactly one
// certificate, self-signed with a valid signature, whose SPKI hash is
// spkiHash (compared in constant time); a connection refused for its
// certificate fails with an error wrapping ErrPin. Validity dates are
// not checked, as Tahoe does not check them. A spkiHash that is not 43
// characters of unpadded base64url is an error wrapping ErrNURL.
//
// Each call makes its own TLS session cache, so that a session is resumed
// only with the server that the pin names: use one config per NURL.
func ClientTLSConfig(spkiHash string) (*tls.Config, error) {
	want, err := decodeSPKIHash(spkiHash)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNURL, err)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		// Chain validation is replaced by the pin, checked in
		// VerifyConnection (which runs on resumed sessions too).
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPinned(cs.PeerCertificates, want)
		},
		// Parallel uploads open several connections to each server;
		// later ones resume the first's session and skip the costly
		// certificate signature. The session belongs to this config
		// alone (one per NURL), and a resumed connection is checked
		// against the pin just the same.
		ClientSessionCache: tls.NewLRUClientSessionCache(16),
	}, nil
}

// verifyPinned checks the server's certificates against a pin.
func verifyPinned(certs []*x509.Certificate, want [32]byte) error {
	if len(certs) != 1 {
		return fmt.Errorf("%w: server sent %d certificates, want one self-signed certificate", ErrPin, len(certs))
	}
	c := certs[0]
	got, err := spkiSum(c)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPin, err)
	}
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return fmt.Errorf("%w: its SPKI hash is %s, the NURL pins %s", ErrPin,
			base64.RawURLEncoding.EncodeToString(got[:]), base64.RawURLEncoding.EncodeToString(want[:]))
	}
	if !bytes.Equal(c.RawIssuer, c.RawSubject) {
		return fmt.Errorf("%w: certificate is not self-signed", ErrPin)
	}
	if err := checkSelfSignature(c); err != nil {
		return fmt.Errorf("%w: bad self-signature: %v", ErrPin, err)
	}
	return nil
}

// checkSelfSignature checks that c is signed by its own key. Go refuses
// SHA-1 signatures as insecure; old Foolscap certificates may carry one,
// and since the pin, not the signature, is what authenticates the server,
// an RSA SHA-1 self-signature is checked by hand.
func checkSelfSignature(c *x509.Certificate) error {
	err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature)
	var insecure x509.InsecureAlgorithmError
	if err == nil || !errors.As(err, &insecure) || c.SignatureAlgorithm != x509.SHA1WithRSA {
		return err
	}
	pub, ok := c.PublicKey.(*rsa.PublicKey)
	if !ok {
		return err
	}
	h := sha1.Sum(c.RawTBSCertificate)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA1, h[:], c.Signature)
}
