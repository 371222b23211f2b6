package storagehttp

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
	"net"
	"net/http"
	"time"
)

// ErrPin is wrapped by the error of a connection refused because the
// server's certificate is not the one its NURL pins (or not one
// well-formed self-signed certificate).
var ErrPin = errors.New("server certificate does not match the NURL")

// ServerTLSConfig is the TLS configuration of a storage server presenting
// cert (the node's private/node.pem): TLS 1.2 or 1.3, HTTP/1.1, no client
// certificates (Tahoe's HTTP server asks for none).
func ServerTLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
}

// NewServer returns an HTTP/1.1 server for h with TLS set up for cert and
// with timeouts that bound idle and slow clients but not the transfer of
// a large share: start it with srv.ServeTLS(ln, "", ""). (A request body
// that stops arriving is cut by Handler: see WithBodyTimeout.)
func NewServer(h http.Handler, cert tls.Certificate) *http.Server {
	return &http.Server{
		Handler:           h,
		TLSConfig:         ServerTLSConfig(cert),
		ReadHeaderTimeout: 60 * time.Second,
		IdleTimeout:       5 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		// A non-nil empty map turns HTTP/2 off: the protocol is HTTP/1.1.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
}

// ServeTLS serves h over TLS with cert on ln until ln fails or is closed.
// Use NewServer instead to be able to shut the server down gracefully.
func ServeTLS(ln net.Listener, cert tls.Certificate, h http.Handler) error {
	return NewServer(h, cert).ServeTLS(ln, "", "")
}

// ClientTLSConfig is the TLS configuration of a client of the server that
// spkiHash (a NURL's pin) names. There is no CA validation; instead, as in
// Tahoe's _TLSContextFactory, the server must present exactly one
// certificate, self-signed with a valid signature, whose SPKI hash is
// spkiHash (compared in constant time). Its validity dates are not
// checked, as Tahoe does not check them.
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
	got := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return fmt.Errorf("%w: its SPKI hash is %s, the NURL pins %s", ErrPin,
			SPKIHash(c), base64.RawURLEncoding.EncodeToString(want[:]))
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
