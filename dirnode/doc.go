// Package dirnode implements Tahoe-LAFS directories ("dirnodes") as Tahoe
// 1.20 stores them, independent of storage: docs/specifications/dirnodes.rst
// and the code of src/allmydata/dirnode.py and unknown.py.
//
// A directory is a file whose contents list its children. For a mutable
// directory (URI:DIR2, URI:DIR2-MDMF) those bytes are the plaintext of an
// SDMF or MDMF file; for an immutable one (URI:DIR2-CHK, URI:DIR2-LIT) the
// plaintext of a CHK or LIT file. Other packages store and fetch the
// bytes; this one turns them into entries and back:
//
//   - Pack and Unpack: the packed form, byte-identical to Tahoe's
//     (netstrings, write caps encrypted under the directory's write key,
//     metadata as Python's json.dumps writes it);
//   - Entry and NewEntry: a child link with Tahoe's rules for caps,
//     including unknown caps and the "ro."/"imm." prefixes;
//   - Object: ordered JSON objects for metadata, parsed as Python's
//     json.loads and written as its json.dumps;
//   - UpdateMetadata, Add, SetMetadata, Delete: Tahoe's edits of a
//     directory's children (linkcrtime/linkmotime upkeep);
//   - JSON: the web API's t=json listing of a directory;
//   - NFC: the Unicode normalisation Tahoe applies to child names, by
//     golang.org/x/text/unicode/norm (Unicode 15.0.0, as Python 3.12 has
//     it; see nfc.go).
package dirnode
