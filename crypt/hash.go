package crypt

import (
	"crypto/sha1"
	"crypto/sha256"
	"hash"
	"strconv"

	"github.com/lafs/lafs"
)

// Hash is a 32-byte SHA-256d digest.
type Hash = [32]byte

// Hash tags, exactly as Tahoe's util/hashutil.py spells them.
const (
	TagStorageIndex         = "allmydata_immutable_key_to_storage_index_v1"
	TagConvergence          = "allmydata_immutable_content_to_key_with_added_secret_v1+"
	TagBlock                = "allmydata_encoded_subshare_v1"
	TagUEB                  = "allmydata_uri_extension_v1"
	TagPlaintext            = "allmydata_plaintext_v1"
	TagPlaintextSegment     = "allmydata_plaintext_segment_v1"
	TagCrypttext            = "allmydata_crypttext_v1"
	TagCrypttextSegment     = "allmydata_crypttext_segment_v1"
	TagMerkleEmptyLeaf      = "Merkle tree empty leaf"
	TagMerkleInternal       = "Merkle tree internal node"
	TagClientRenewal        = "allmydata_client_renewal_secret_v1"
	TagClientCancel         = "allmydata_client_cancel_secret_v1"
	TagFileRenewal          = "allmydata_file_renewal_secret_v1"
	TagFileCancel           = "allmydata_file_cancel_secret_v1"
	TagBucketRenewal        = "allmydata_bucket_renewal_secret_v1"
	TagBucketCancel         = "allmydata_bucket_cancel_secret_v1"
	TagMutableWriteKey      = "allmydata_mutable_privkey_to_writekey_v1"
	TagWriteEnablerMaster   = "allmydata_mutable_writekey_to_write_enabler_master_v1"
	TagWriteEnabler         = "allmydata_mutable_write_enabler_master_and_nodeid_to_write_enabler_v1"
	TagPubkeyFingerprint    = "allmydata_mutable_pubkey_to_fingerprint_v1"
	TagMutableReadKey       = "allmydata_mutable_writekey_to_readkey_v1"
	TagMutableDataKey       = "allmydata_mutable_readkey_to_datakey_v1"
	TagMutableStorageIndex  = "allmydata_mutable_readkey_to_storage_index_v1"
	TagDirnodeChildCapKey   = "allmydata_mutable_writekey_and_salt_to_dirnode_child_capkey_v1"
	TagDirnodeChildSalt     = "allmydata_dirnode_child_rwcap_to_salt_v1"
	TagBackupDBDirHash      = "allmydata_backupdb_dirhash_v1"
	TagMutableContainerHead = "allmydata_mutable_container_header"
)

// SHA256d returns SHA-256(SHA-256(b)).
func SHA256d(b []byte) Hash {
	h := sha256.Sum256(b)
	return sha256.Sum256(h[:])
}

// sha256d is a streaming SHA-256d.
type sha256d struct{ hash.Hash }

func (d sha256d) Sum(b []byte) []byte {
	inner := d.Hash.Sum(nil)
	outer := sha256.Sum256(inner)
	return append(b, outer[:]...)
}

// NewSHA256d returns a streaming SHA-256d hash.
func NewSHA256d() hash.Hash { return sha256d{sha256.New()} }

// NewTaggedHasher returns a streaming tagged hash: SHA-256d over
// netstring(tag) followed by everything written to it.
func NewTaggedHasher(tag string) hash.Hash {
	h := NewSHA256d()
	h.Write(Netstring([]byte(tag)))
	return h
}

// TaggedHash is Tahoe's tagged_hash: SHA-256d(netstring(tag) || val).
func TaggedHash(tag string, val []byte) Hash {
	h := NewTaggedHasher(tag)
	h.Write(val)
	var out Hash
	h.Sum(out[:0])
	return out
}

// TaggedPairHash is Tahoe's tagged_pair_hash:
// SHA-256d(netstring(tag) || netstring(a) || netstring(b)).
func TaggedPairHash(tag string, a, b []byte) Hash {
	h := NewTaggedHasher(tag)
	h.Write(Netstring(a))
	h.Write(Netstring(b))
	var out Hash
	h.Sum(out[:0])
	return out
}

func key16(h Hash) (k [16]byte) { copy(k[:], h[:16]); return k }

// StorageIndexHash derives an immutable file's storage index from its AES key.
func StorageIndexHash(key []byte) lafs.StorageIndex {
	return lafs.StorageIndex(key16(TaggedHash(TagStorageIndex, key)))
}

// ConvergenceTag is the tag of the convergent-key hash for a secret and
// coding parameters; segmentSize is the effective segment size.
func ConvergenceTag(secret []byte, k, n, segmentSize int) string {
	params := strconv.Itoa(k) + "," + strconv.Itoa(n) + "," + strconv.Itoa(segmentSize)
	return TagConvergence + string(Netstring(secret)) + string(Netstring([]byte(params)))
}

// NewConvergenceHasher returns the streaming hash whose first 16 bytes
// (see ConvergenceKey) are the convergent AES key of the plaintext written to it.
func NewConvergenceHasher(secret []byte, k, n, segmentSize int) hash.Hash {
	return NewTaggedHasher(ConvergenceTag(secret, k, n, segmentSize))
}

// ConvergenceKey returns the convergent key from a hasher made by NewConvergenceHasher.
func ConvergenceKey(h hash.Hash) [16]byte {
	var out Hash
	h.Sum(out[:0])
	return key16(out)
}

// ConvergenceHash computes the convergent AES key of plaintext in one call.
func ConvergenceHash(secret []byte, k, n, segmentSize int, plaintext []byte) [16]byte {
	h := NewConvergenceHasher(secret, k, n, segmentSize)
	h.Write(plaintext)
	return ConvergenceKey(h)
}

// BlockHash hashes one erasure-coded block (a leaf of a block hash tree).
func BlockHash(block []byte) Hash { return TaggedHash(TagBlock, block) }

// UEBHash hashes a URI extension block; the result goes into CHK caps.
func UEBHash(ueb []byte) Hash { return TaggedHash(TagUEB, ueb) }

// PlaintextHash is the legacy whole-plaintext hash (old uploads only).
func PlaintextHash(b []byte) Hash { return TaggedHash(TagPlaintext, b) }

// PlaintextSegmentHash is the legacy per-segment plaintext hash.
func PlaintextSegmentHash(b []byte) Hash { return TaggedHash(TagPlaintextSegment, b) }

// CrypttextHash hashes a whole ciphertext.
func CrypttextHash(b []byte) Hash { return TaggedHash(TagCrypttext, b) }

// NewCrypttextHasher returns a streaming CrypttextHash.
func NewCrypttextHasher() hash.Hash { return NewTaggedHasher(TagCrypttext) }

// CrypttextSegmentHash hashes one ciphertext segment (unpadded).
func CrypttextSegmentHash(b []byte) Hash { return TaggedHash(TagCrypttextSegment, b) }

// MerkleEmptyLeafHash is the hash that pads a Merkle tree at leaf position i.
func MerkleEmptyLeafHash(i int) Hash {
	return TaggedHash(TagMerkleEmptyLeaf, []byte(strconv.Itoa(i)))
}

// MerkleInternalHash is the hash of a Merkle tree's interior node.
func MerkleInternalHash(left, right Hash) Hash {
	return TaggedPairHash(TagMerkleInternal, left[:], right[:])
}

// ClientRenewalSecret derives a client's lease renewal secret from its lease
// secret (private/secret). Tahoe passes the arguments reversed: the lease
// secret is the tag and the tag string is the value.
func ClientRenewalSecret(leaseSecret []byte) Hash {
	return TaggedHash(string(leaseSecret), []byte(TagClientRenewal))
}

// ClientCancelSecret derives a client's lease cancel secret (arguments
// reversed, as in ClientRenewalSecret).
func ClientCancelSecret(leaseSecret []byte) Hash {
	return TaggedHash(string(leaseSecret), []byte(TagClientCancel))
}

// FileRenewalSecret derives the renewal secret for one storage index.
func FileRenewalSecret(clientRenewal []byte, si []byte) Hash {
	return TaggedPairHash(TagFileRenewal, clientRenewal, si)
}

// FileCancelSecret derives the cancel secret for one storage index.
func FileCancelSecret(clientCancel []byte, si []byte) Hash {
	return TaggedPairHash(TagFileCancel, clientCancel, si)
}

// BucketRenewalSecret derives the renewal secret for one storage index on one
// server; serverID is the server's raw 20-byte tubid.
func BucketRenewalSecret(fileRenewal []byte, serverID []byte) Hash {
	return TaggedPairHash(TagBucketRenewal, fileRenewal, serverID)
}

// BucketCancelSecret derives the cancel secret for one storage index on one server.
func BucketCancelSecret(fileCancel []byte, serverID []byte) Hash {
	return TaggedPairHash(TagBucketCancel, fileCancel, serverID)
}

// SSKWriteKey derives a mutable file's write key from its PKCS#8 DER private key.
func SSKWriteKey(privateKeyDER []byte) [16]byte {
	return key16(TaggedHash(TagMutableWriteKey, privateKeyDER))
}

// SSKWriteEnablerMaster derives the write-enabler master secret from a write key.
func SSKWriteEnablerMaster(writeKey []byte) Hash {
	return TaggedHash(TagWriteEnablerMaster, writeKey)
}

// SSKWriteEnabler derives the write enabler of a mutable file on one server
// (serverID is its raw 20-byte id).
func SSKWriteEnabler(writeKey []byte, serverID []byte) Hash {
	m := SSKWriteEnablerMaster(writeKey)
	return TaggedPairHash(TagWriteEnabler, m[:], serverID)
}

// SSKPubkeyFingerprint hashes a SubjectPublicKeyInfo DER public key.
func SSKPubkeyFingerprint(publicKeyDER []byte) Hash {
	return TaggedHash(TagPubkeyFingerprint, publicKeyDER)
}

// SSKReadKey derives a mutable file's read key from its write key.
func SSKReadKey(writeKey []byte) [16]byte {
	return key16(TaggedHash(TagMutableReadKey, writeKey))
}

// SSKDataKey derives the AES key of one mutable segment from its salt and the
// read key (salt first, as Tahoe does).
func SSKDataKey(salt, readKey []byte) [16]byte {
	return key16(TaggedPairHash(TagMutableDataKey, salt, readKey))
}

// SSKStorageIndex derives a mutable file's storage index from its read key.
func SSKStorageIndex(readKey []byte) lafs.StorageIndex {
	return lafs.StorageIndex(key16(TaggedHash(TagMutableStorageIndex, readKey)))
}

// DirnodeChildCapKey derives the key that encrypts a child's write cap in a
// directory, from the entry's salt and the directory's write key.
func DirnodeChildCapKey(salt, dirWriteKey []byte) [16]byte {
	return key16(TaggedPairHash(TagDirnodeChildCapKey, salt, dirWriteKey))
}

// DirnodeChildSalt derives the deterministic salt of a directory entry from
// the child's write cap (empty when it has none).
func DirnodeChildSalt(writeCap []byte) [16]byte {
	return key16(TaggedHash(TagDirnodeChildSalt, writeCap))
}

// BackupDBDirHash hashes a directory listing for the backup database.
func BackupDBDirHash(contents []byte) Hash {
	return TaggedHash(TagBackupDBDirHash, contents)
}

// TahoeHMAC is Tahoe's non-standard "hmac", used only for directory entry MACs:
// SHA-256((key^0x5c..) || SHA-256((key^0x36..) || data)) with the key XORed at
// its own length, not padded to a block.
func TahoeHMAC(key, data []byte) Hash {
	ipad := make([]byte, len(key), len(key)+len(data))
	opad := make([]byte, len(key), len(key)+32)
	for i, b := range key {
		ipad[i] = b ^ 0x36
		opad[i] = b ^ 0x5c
	}
	inner := sha256.Sum256(append(ipad, data...))
	return sha256.Sum256(append(opad, inner[:]...))
}

// PermuteServerHash orders servers for a storage index: plain SHA-1 of the
// storage index followed by the server's permutation seed.
func PermuteServerHash(si, seed []byte) [20]byte {
	h := sha1.New()
	h.Write(si)
	h.Write(seed)
	var out [20]byte
	h.Sum(out[:0])
	return out
}

// LeaseSecrets derives the lease renew and cancel secrets a client
// presents to one server for one storage index, from the client's lease
// secret (private/secret) and the server's node id: Tahoe's client_renewal_secret, file_renewal_secret and
// bucket_renewal_secret chain, and the same for cancel secrets.
func LeaseSecrets(leaseSecret []byte, si lafs.StorageIndex, server lafs.NodeID) lafs.LeaseSecrets {
	cr := ClientRenewalSecret(leaseSecret)
	cc := ClientCancelSecret(leaseSecret)
	fr := FileRenewalSecret(cr[:], si[:])
	fc := FileCancelSecret(cc[:], si[:])
	return lafs.LeaseSecrets{
		Renew:  lafs.Secret(BucketRenewalSecret(fr[:], server[:])),
		Cancel: lafs.Secret(BucketCancelSecret(fc[:], server[:])),
	}
}

// PairHasher is a streaming tagged hash, like NewTaggedHasher's, that can
// be fed side by side with another one (WritePair): on CPUs with the x86
// SHA extensions two messages hash in little more than the time of one.
type PairHasher struct {
	d   pairDigest // where pairFast
	std hash.Hash  // elsewhere
}

// NewPairHasher returns a PairHasher of the tagged hash with tag.
func NewPairHasher(tag string) *PairHasher {
	h := new(PairHasher)
	if pairFast() {
		h.d.Reset()
	} else {
		h.std = sha256.New()
	}
	h.Write(Netstring([]byte(tag)))
	return h
}

// Write adds p to the message; it never fails.
func (h *PairHasher) Write(p []byte) (int, error) {
	if h.std != nil {
		return h.std.Write(p)
	}
	return h.d.Write(p)
}

// Sum returns the tagged hash of what was written.
func (h *PairHasher) Sum() Hash {
	var inner Hash
	if h.std != nil {
		h.std.Sum(inner[:0])
	} else {
		h.d.Sum(inner[:0])
	}
	return sha256.Sum256(inner[:])
}

// WritePair writes pa to a and pb to b, hashing the two side by side.
func WritePair(a *PairHasher, pa []byte, b *PairHasher, pb []byte) {
	if a.std != nil || b.std != nil {
		a.Write(pa)
		b.Write(pb)
		return
	}
	pairWrite2(&a.d, pa, &b.d, pb)
}

// BlockHashPair returns the BlockHash of a and of b, computed side by side
// (fastest when they have the same length).
func BlockHashPair(a, b []byte) (Hash, Hash) {
	if !pairFast() {
		return BlockHash(a), BlockHash(b)
	}
	ha, hb := NewPairHasher(TagBlock), NewPairHasher(TagBlock)
	WritePair(ha, a, hb, b)
	ia, ib := pairSum2(&ha.d, &hb.d)
	return sha256.Sum256(ia[:]), sha256.Sum256(ib[:])
}
