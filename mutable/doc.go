// Package mutable implements Tahoe-LAFS's mutable files, SDMF and MDMF
// (Tahoe's docs/specifications/mutable.rst and mutable/*.py). So far it holds
// the key derivation: from a file's RSA-2048 signing key to its write key,
// read key, storage index, public-key fingerprint and caps.
package mutable
