package mutable

import (
	"crypto/rsa"
	"fmt"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
)

// Keys are everything derived from a mutable file's RSA key, as Tahoe's
// mutable/common.py derive_mutable_keys computes them.
type Keys struct {
	Private      *rsa.PrivateKey
	PrivateDER   []byte // PKCS#8 DER, what the write key is hashed from
	PublicDER    []byte // SubjectPublicKeyInfo DER, what the fingerprint is hashed from
	WriteKey     [16]byte
	ReadKey      [16]byte
	StorageIndex lafs.StorageIndex
	Fingerprint  [32]byte
}

// DeriveKeys derives a mutable file's keys from its RSA-2048 private key.
func DeriveKeys(priv *rsa.PrivateKey) (*Keys, error) {
	if priv.N.BitLen() != crypt.RSAKeyBits {
		return nil, fmt.Errorf("%w: RSA key is %d bits, need %d", crypt.ErrKey, priv.N.BitLen(), crypt.RSAKeyBits)
	}
	privDER, err := crypt.MarshalRSAPrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pubDER, err := crypt.MarshalRSAPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	k := &Keys{Private: priv, PrivateDER: privDER, PublicDER: pubDER}
	k.WriteKey = crypt.SSKWriteKey(privDER)
	k.ReadKey = crypt.SSKReadKey(k.WriteKey[:])
	k.StorageIndex = crypt.SSKStorageIndex(k.ReadKey[:])
	k.Fingerprint = crypt.SSKPubkeyFingerprint(pubDER)
	return k, nil
}

// WriteCap is the file's write cap in the given format (URI:SSK: or URI:MDMF:).
func (k *Keys) WriteCap(f cap.Format) *cap.MutableWrite {
	return &cap.MutableWrite{Format: f, WriteKey: k.WriteKey, Fingerprint: k.Fingerprint}
}

// EncryptedPrivateKey is the private key as shares store it: the PKCS#8 DER
// encrypted with AES-CTR under the write key.
func (k *Keys) EncryptedPrivateKey() []byte {
	b := append([]byte(nil), k.PrivateDER...)
	if err := crypt.XORCTR(k.WriteKey[:], b); err != nil {
		panic(err) // a 16-byte key cannot fail
	}
	return b
}

// WriteEnabler is the secret that lets this writer modify the file's shares
// on the server with node id server.
func (k *Keys) WriteEnabler(server lafs.NodeID) lafs.Secret {
	return lafs.Secret(crypt.SSKWriteEnabler(k.WriteKey[:], server[:]))
}
