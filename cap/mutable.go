package cap

import (
	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
)

// Format is the share format of a mutable file. Its caps differ only in
// their kind names (URI:SSK... for SDMF, URI:MDMF... for MDMF); the keys are
// derived the same way.
type Format int

const (
	SDMF Format = iota // one segment; Tahoe's default
	MDMF               // many segments, updatable in place
)

func (f Format) String() string {
	if f == MDMF {
		return "MDMF"
	}
	return "SDMF"
}

// kindName is the kind of a write cap: SSK, MDMF, DIR2 or DIR2-MDMF. Read
// and verify caps add -RO and -Verifier.
func (f Format) kindName(dir bool) string {
	switch {
	case f == MDMF && dir:
		return "DIR2-MDMF"
	case f == MDMF:
		return "MDMF"
	case dir:
		return "DIR2"
	}
	return "SSK"
}

// MutableWrite is a mutable file's write cap, URI:SSK:writekey:fp (SDMF) or
// URI:MDMF:writekey:fp. The write key decrypts the RSA signing key stored
// with the shares; Fingerprint is the hash of the RSA public key.
type MutableWrite struct {
	Format      Format
	WriteKey    [16]byte
	Fingerprint [32]byte
}

func (c *MutableWrite) String() string { return "URI:" + c.Format.kindName(false) + ":" + c.body() }
func (c *MutableWrite) body() string {
	return lafs.Base32(c.WriteKey[:]) + ":" + lafs.Base32(c.Fingerprint[:])
}

// ReadKey is derived from the write key by a one-way hash.
func (c *MutableWrite) ReadKey() [16]byte { return crypt.SSKReadKey(c.WriteKey[:]) }

// StorageIndex is derived from the read key by a one-way hash.
func (c *MutableWrite) StorageIndex() lafs.StorageIndex {
	rk := c.ReadKey()
	return crypt.SSKStorageIndex(rk[:])
}

func (c *MutableWrite) ReadOnly() Cap {
	return &MutableRead{Format: c.Format, ReadKey: c.ReadKey(), Fingerprint: c.Fingerprint}
}

func (c *MutableWrite) Verifier() Cap {
	return &MutableVerifier{Format: c.Format, StorageIndex: c.StorageIndex(), Fingerprint: c.Fingerprint}
}

func (c *MutableWrite) IsMutable() bool  { return true }
func (c *MutableWrite) IsReadOnly() bool { return false }

// MutableRead is a mutable file's read cap, URI:SSK-RO:readkey:fp or
// URI:MDMF-RO:readkey:fp.
type MutableRead struct {
	Format      Format
	ReadKey     [16]byte
	Fingerprint [32]byte
}

func (c *MutableRead) String() string { return "URI:" + c.Format.kindName(false) + "-RO:" + c.body() }
func (c *MutableRead) body() string {
	return lafs.Base32(c.ReadKey[:]) + ":" + lafs.Base32(c.Fingerprint[:])
}

// StorageIndex is derived from the read key by a one-way hash.
func (c *MutableRead) StorageIndex() lafs.StorageIndex { return crypt.SSKStorageIndex(c.ReadKey[:]) }

func (c *MutableRead) ReadOnly() Cap { return c }

func (c *MutableRead) Verifier() Cap {
	return &MutableVerifier{Format: c.Format, StorageIndex: c.StorageIndex(), Fingerprint: c.Fingerprint}
}

func (c *MutableRead) IsMutable() bool  { return true }
func (c *MutableRead) IsReadOnly() bool { return true }

// MutableVerifier is a mutable file's verify cap, URI:SSK-Verifier:si:fp or
// URI:MDMF-Verifier:si:fp. As in Tahoe it reports IsMutable false.
type MutableVerifier struct {
	Format       Format
	StorageIndex lafs.StorageIndex
	Fingerprint  [32]byte
}

func (c *MutableVerifier) String() string {
	return "URI:" + c.Format.kindName(false) + "-Verifier:" + c.body()
}
func (c *MutableVerifier) body() string {
	return c.StorageIndex.String() + ":" + lafs.Base32(c.Fingerprint[:])
}

func (c *MutableVerifier) ReadOnly() Cap    { return c }
func (c *MutableVerifier) Verifier() Cap    { return c }
func (c *MutableVerifier) IsMutable() bool  { return false }
func (c *MutableVerifier) IsReadOnly() bool { return true }
