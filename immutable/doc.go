// Package immutable implements Tahoe-LAFS's immutable files: CHK (content
// hash key) files, encrypted with AES-128-CTR, erasure-coded with zfec into N
// shares of which any K recover the file, and protected by Merkle hash trees
// whose roots the URI extension block (UEB) carries and whose hash the cap
// carries; and LIT files, small enough to live in the cap itself.
//
// It follows Tahoe's docs/specifications/file-encoding.rst and
// URI-extension.rst and the code in immutable/encode.py and layout.py,
// byte for byte: a cap made here opens with Tahoe and the other way round.
//
// Encoding streams: segments flow through a bounded pipeline of workers, so
// memory stays bounded by a few segments whatever the file size. Decoding
// checks every hash on the way: a flipped bit anywhere in a share is detected
// and that share is refused in favour of another.
package immutable
