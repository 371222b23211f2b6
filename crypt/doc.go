// Package crypt holds Tahoe-LAFS's cryptographic primitives: its base32 and
// netstring encodings, SHA-256d, one named function for every tagged hash that
// Tahoe's util/hashutil.py defines, Tahoe's non-standard "hmac", AES-128-CTR
// with a zero IV, and the RSA and Ed25519 key encodings that capabilities and
// node identities are derived from.
//
// Every function here is byte-compatible with Tahoe-LAFS 1.20; the known
// answers in Tahoe's test_hashutil.py are checked by this package's tests.
package crypt
