package cap

import (
	"fmt"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
)

// CHK is an immutable file's read cap, URI:CHK:key:uebhash:k:N:size. Key is
// the AES key of the file; UEBHash is the hash of its URI extension block,
// which pins every other hash of the file; K of the N shares rebuild it;
// Size is the plaintext length.
type CHK struct {
	Key     [16]byte
	UEBHash [32]byte
	K, N    int
	Size    uint64
}

// StorageIndex is derived from the key by a one-way hash.
func (c *CHK) StorageIndex() lafs.StorageIndex { return crypt.StorageIndexHash(c.Key[:]) }

func (c *CHK) String() string { return "URI:CHK:" + c.body() }

func (c *CHK) body() string {
	return fmt.Sprintf("%s:%s:%d:%d:%d", lafs.Base32(c.Key[:]), lafs.Base32(c.UEBHash[:]), c.K, c.N, c.Size)
}

func (c *CHK) ReadOnly() Cap    { return c }
func (c *CHK) IsMutable() bool  { return false }
func (c *CHK) IsReadOnly() bool { return true }

// Verifier returns the URI:CHK-Verifier cap, which holds the storage index
// in place of the key.
func (c *CHK) Verifier() Cap {
	return &CHKVerifier{StorageIndex: c.StorageIndex(), UEBHash: c.UEBHash, K: c.K, N: c.N, Size: c.Size}
}

// CHKVerifier is an immutable file's verify cap,
// URI:CHK-Verifier:si:uebhash:k:N:size: enough to find, check and repair
// the shares, not to decrypt them.
type CHKVerifier struct {
	StorageIndex lafs.StorageIndex
	UEBHash      [32]byte
	K, N         int
	Size         uint64
}

func (c *CHKVerifier) String() string { return "URI:CHK-Verifier:" + c.body() }

func (c *CHKVerifier) body() string {
	return fmt.Sprintf("%s:%s:%d:%d:%d", c.StorageIndex, lafs.Base32(c.UEBHash[:]), c.K, c.N, c.Size)
}

func (c *CHKVerifier) ReadOnly() Cap    { return c }
func (c *CHKVerifier) Verifier() Cap    { return c }
func (c *CHKVerifier) IsMutable() bool  { return false }
func (c *CHKVerifier) IsReadOnly() bool { return true }

// LIT is a literal file, URI:LIT:data: a file small enough (Tahoe uses it up
// to 55 bytes) to live in its cap. It has no storage index and no verify cap.
type LIT struct{ Data []byte }

func (c *LIT) String() string   { return "URI:LIT:" + c.body() }
func (c *LIT) body() string     { return lafs.Base32(c.Data) }
func (c *LIT) ReadOnly() Cap    { return c }
func (c *LIT) Verifier() Cap    { return nil }
func (c *LIT) IsMutable() bool  { return false }
func (c *LIT) IsReadOnly() bool { return true }
