package node

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lafs/lafs"
)

// Names of the secret and state files, as Tahoe names them.
const (
	LeaseSecretFile       = "secret"           // in private/
	ConvergenceSecretFile = "convergence"      // in private/
	APIAuthTokenFile      = "api_auth_token"   // in private/
	PermutationSeedFile   = "permutation-seed" // in BASEDIR
)

// secretSize is hashutil.CRYPTO_VAL_SIZE, the size of new secrets.
const secretSize = 32

// LoadOrCreateSecret returns the secret in the file at path: base32 text,
// surrounding whitespace ignored, decoded as strictly as Tahoe's base32.a2b.
// If the file does not exist it is created (0600), holding the base32 of 32
// new random bytes and a newline, as client.py _make_secret writes it. An
// existing file is never replaced; an empty one is the empty secret. A
// missing parent directory is created (0700).
func LoadOrCreateSecret(path string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), privateDirMode); err != nil {
		return nil, err
	}
	data, err := loadOrCreate(path, secretFileMode, func() ([]byte, error) {
		b := make([]byte, secretSize)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		return []byte(lafs.Base32(b) + "\n"), nil
	})
	if err != nil {
		return nil, err
	}
	secret, err := lafs.ParseBase32(pyStrip(string(data)))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrIdentity, path, err)
	}
	return secret, nil
}

// Secrets are a client's secrets from private/.
type Secrets struct {
	// Lease is private/secret, from which lease renew and cancel secrets
	// are derived.
	Lease []byte
	// Convergence is private/convergence, mixed into the keys of
	// immutable files. It may be empty: docs/configuration.rst suggests
	// an empty file to converge with everyone.
	Convergence []byte
}

// LoadOrCreateSecrets loads, or creates, a client's lease and convergence
// secrets (see LoadOrCreateSecret).
func LoadOrCreateSecrets(basedir string) (*Secrets, error) {
	priv, err := privateDir(basedir)
	if err != nil {
		return nil, err
	}
	lease, err := LoadOrCreateSecret(filepath.Join(priv, LeaseSecretFile))
	if err != nil {
		return nil, err
	}
	conv, err := LoadOrCreateSecret(filepath.Join(priv, ConvergenceSecretFile))
	if err != nil {
		return nil, err
	}
	return &Secrets{Lease: lease, Convergence: conv}, nil
}

// WriteAPIAuthToken makes a new web API token and writes it to
// private/api_auth_token (0600), replacing the old one, as Tahoe does at
// every start: the URL-safe base64 (padded) of 32 random bytes, and a
// newline. It returns the token.
func WriteAPIAuthToken(basedir string) (string, error) {
	priv, err := privateDir(basedir)
	if err != nil {
		return "", err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	token := base64.URLEncoding.EncodeToString(b)
	return token, writeFileAtomic(filepath.Join(priv, APIAuthTokenFile), []byte(token+"\n"), secretFileMode)
}

// ReadAPIAuthToken returns the token in private/api_auth_token, as the
// CLI reads it.
func ReadAPIAuthToken(basedir string) (string, error) {
	return readTrimmed(filepath.Join(basedir, "private", APIAuthTokenFile))
}

// LoadOrCreatePermutationSeed returns the storage server's permutation seed
// from BASEDIR/permutation-seed, writing the file (0644) as Tahoe's
// _init_permutation_seed does if it is missing or empty: the base32 of the
// base32 text of the Ed25519 public key, or, for a server that already holds shares (it predates
// node keys, and clients placed those shares by its tub ID), the base32 of
// its tub ID.
func LoadOrCreatePermutationSeed(basedir string, id *Identity, haveShares bool) (string, error) {
	path := filepath.Join(basedir, PermutationSeedFile)
	seed, err := readTrimmed(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if seed != "" {
		return seed, nil
	}
	// Missing or empty (Tahoe rewrites an empty one too).
	// Tahoe takes the key string without "pub-v0-" (base32 text) as the
	// seed bytes, and writes their base32: 84 characters.
	seed = lafs.Base32([]byte(lafs.Base32(id.PublicKey)))
	if haveShares {
		seed = id.TubID
	}
	return seed, writeFileAtomic(path, []byte(seed+"\n"), publicFileMode)
}
