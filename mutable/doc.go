// Package mutable implements Tahoe-LAFS's mutable files, SDMF and MDMF
// (Tahoe's docs/specifications/mutable.rst and src/allmydata/mutable/*.py),
// byte-compatible with Tahoe 1.20: shares written here are read by Tahoe
// and the other way round.
//
// A mutable file is signed with its own RSA-2048 key. keys.go derives
// from it the write key, read key, storage index and public-key
// fingerprint (Tahoe's derive_mutable_keys); the caps carry the write or
// read key and the fingerprint. KeyPool keeps fresh keys ready, since
// making one takes about a tenth of a second.
//
// # Layout (layout.go, sdmf.go, mdmf.go, share.go)
//
// Each version of a file is encrypted (AES-CTR under a key hashed from a
// random 16-byte salt and the read key), split into segments (SDMF: one;
// MDMF: 128 KiB each, with a salt per segment), erasure-coded k-of-N with
// zfec, and hashed: a block hash tree per share over its blocks (MDMF
// hashes salt||block), a share hash tree over the N block-tree roots. Its
// root, the seqnum, the encoding parameters and lengths form the signed
// prefix, signed with RSA-PSS-SHA256 (salt length 32). Header, Share,
// ParseHeader, ParseShare and Share.Marshal read and write both share
// layouts byte for byte; the parsers check every offset against the
// segment geometry and never panic (they are fuzzed).
//
// # Reading (servermap.go, retrieve.go)
//
// The servermap asks every server in the storage index's permuted list,
// in parallel, for its shares, reads each share's first 4000 bytes and
// keeps the shares whose public key hashes to the cap's fingerprint and
// whose signature verifies; the others are reported to their servers as
// corrupt. Shares group into versions by signed prefix; the best is the
// highest seqnum with k distinct shares, ties going to the higher root
// hash (Tahoe's ordering of verinfo tuples). Retrieval reads only the
// segments a range needs, from k shares, lowest share numbers first,
// checking every block against its share's block hash tree, the whole
// tree against the share hash chain and the chain against the signed root
// hash; a share that fails is dropped for another.
//
// # Writing (publish.go, update.go, encode.go)
//
// A publish numbers the new version one above the highest seqnum seen and
// writes every share with test-and-set: the write succeeds only if the
// slot still holds the checkstring the servermap saw (for a new share,
// only if the slot is empty: Tahoe's (0, 1, eq, "")). Existing shares,
// including bad ones, are replaced where they are; the other share numbers
// go to the servers holding the fewest shares, in permuted order, wrapping
// round when there are fewer servers than shares (Tahoe's update_goal).
// Two writers that start from the same version are detected: the loser
// gets ErrUncoordinatedWrite, and File.Modify reads again and retries, as
// Tahoe's modify does. An MDMF File.WriteAt rewrites only the segments it
// touches, with new salts, plus every share's head and block hash tree, as
// Tahoe's update does; given the same salts it leaves shares identical to
// Tahoe's.
//
// Where this package differs from Tahoe, deliberately:
//   - the servermap asks all servers, not k+epsilon (reading) or
//     N+epsilon (writing);
//   - the first server in permuted order is written alone before the
//     others, so that of two racing writers the loser writes nothing;
//   - publishes set the new length of each share, so that a share whose
//     new version is shorter is truncated (Tahoe leaves the old tail);
//   - a publish whose server fails places that share on another server;
//   - WriteAt retries after an uncoordinated write like Modify, and falls
//     back to rewriting the whole file when the block hash tree of some
//     share number cannot be read (Tahoe's update would need it too).
package mutable
