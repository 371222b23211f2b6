package dirnode

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/lafs/lafs/crypt"
)

// Sizes in the encrypted write-cap field of an entry: salt, then the
// AES-CTR ciphertext, then the MAC.
const (
	rwSaltLen = 16
	rwMACLen  = 32
)

// errKeyAndImmutable: an immutable directory has no write key.
var errKeyAndImmutable = errors.New("dirnode: an immutable directory has no write key")

// WriteKeySize is the length of a mutable directory's write key.
const WriteKeySize = 16

// checkKey refuses write keys that no directory has.
func checkKey(writeKey []byte, deepImmutable bool) error {
	switch {
	case writeKey == nil:
		return nil
	case deepImmutable:
		return errKeyAndImmutable
	case len(writeKey) != WriteKeySize:
		return fmt.Errorf("dirnode: write key of %d bytes, want %d", len(writeKey), WriteKeySize)
	}
	return nil
}

// Pack serialises entries as the contents of a directory, byte for byte as
// Tahoe's pack_children does:
//
//	for each entry, sorted by NFC name (code point order):
//	  netstring( netstring(name UTF-8) || netstring(ro_uri) ||
//	             netstring(rwcapdata) || netstring(metadata JSON) )
//
// writeKey is the directory's write key (16 bytes) for a writable mutable
// directory: each entry's write cap (or "", for a child without one) is
// then encrypted into rwcapdata as salt || AES-CTR(key, rw_uri) || MAC,
// with salt = DirnodeChildSalt(rw_uri), key = DirnodeChildCapKey(salt,
// writeKey) and MAC = TahoeHMAC(key, salt||ciphertext). With writeKey nil
// rwcapdata is empty. deepImmutable packs an immutable directory
// (DIR2-CHK, DIR2-LIT): every child must be immutable and writeKey must be
// nil.
//
// Entries are taken as the nodes Tahoe would pack (Unpack's and NewEntry's
// results are): a known cap in Write (or Read) is the child, and a read
// cap given beside a write cap must be its read cap; unknown caps are
// written as held, and an unknown write cap needs a read cap. Prefixes are
// handled as Tahoe's strip_prefix_for_ro does ("ro." is dropped from
// ro_uri; "imm." too in an immutable directory), and metadata is written
// as Python's json.dumps. Two entries whose names are equal after NFC are an
// error (Tahoe keeps the last). No entries pack to the empty string.
func Pack(entries []Entry, writeKey []byte, deepImmutable bool) ([]byte, error) {
	if err := checkKey(writeKey, deepImmutable); err != nil {
		return nil, err
	}
	type packed struct {
		name string
		body []byte
	}
	out := make([]packed, 0, len(entries))
	for i := range entries {
		e := &entries[i]
		name, err := NormalizeName(e.Name)
		if err != nil {
			return nil, err
		}
		rw, ro, err := nodeURIs(e, deepImmutable)
		if err != nil {
			return nil, fmt.Errorf("%w: child %q: %w", ErrBadEntry, name, err)
		}
		md, err := e.Metadata.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%w: child %q: metadata: %w", ErrBadEntry, name, err)
		}
		var rwcap []byte
		if writeKey != nil {
			rwcap, err = encryptRW(writeKey, []byte(rw))
			if err != nil {
				return nil, err
			}
		}
		body := make([]byte, 0, len(name)+len(md)+len(rwcap)+200)
		body = crypt.AppendNetstring(body, []byte(name))
		body = crypt.AppendNetstring(body, []byte(stripPrefixForRO(ro, deepImmutable)))
		body = crypt.AppendNetstring(body, rwcap)
		body = crypt.AppendNetstring(body, md)
		out = append(out, packed{name, body})
	}
	// Python sorts str by code point; Go compares UTF-8 bytes, which is
	// the same order for valid UTF-8.
	slices.SortStableFunc(out, func(a, b packed) int { return strings.Compare(a.name, b.name) })
	n := 0
	for i, p := range out {
		if i > 0 && out[i-1].name == p.name {
			return nil, fmt.Errorf("%w: two children named %q", ErrBadEntry, p.name)
		}
		n += len(p.body) + 24
	}
	buf := make([]byte, 0, n)
	for _, p := range out {
		buf = crypt.AppendNetstring(buf, p.body)
	}
	return buf, nil
}

// encryptRW is Tahoe's _encrypt_rw_uri.
func encryptRW(writeKey, rw []byte) ([]byte, error) {
	salt := crypt.DirnodeChildSalt(rw)
	key := crypt.DirnodeChildCapKey(salt[:], writeKey)
	out := make([]byte, 0, rwSaltLen+len(rw)+rwMACLen)
	out = append(out, salt[:]...)
	out = append(out, rw...)
	if err := crypt.XORCTR(key[:], out[rwSaltLen:]); err != nil {
		return nil, fmt.Errorf("dirnode: write key: %w", err)
	}
	mac := crypt.TahoeHMAC(key[:], out)
	return append(out, mac[:]...), nil
}

// decryptRW is Tahoe's _decrypt_rwcapdata: the salt is the first 16
// bytes, the ciphertext what lies between it and the 32-byte MAC, which
// is not checked (Tahoe stopped checking it in 1.3.0). A field too short
// to hold any ciphertext decrypts to nothing.
func decryptRW(writeKey, data []byte) ([]byte, error) {
	if len(data) <= rwSaltLen+rwMACLen {
		return nil, nil
	}
	key := crypt.DirnodeChildCapKey(data[:rwSaltLen], writeKey)
	pt := bytes.Clone(data[rwSaltLen : len(data)-rwMACLen])
	if err := crypt.XORCTR(key[:], pt); err != nil {
		return nil, fmt.Errorf("dirnode: write key: %w", err)
	}
	return pt, nil
}

// Unpack parses the contents of a directory as Tahoe's _unpack_contents
// does, and returns its entries in the order they are stored (Tahoe
// stores them sorted by name).
//
// writeKey is the directory's write key, or nil to read it read-only (a
// read cap, or an immutable directory): the encrypted write caps are then
// ignored and Write is nil for every entry. deepImmutable reads an
// immutable directory: no entry may carry rwcapdata, and children are
// parsed in the deep-immutable context.
//
// As in Tahoe: names are normalised to NFC; trailing spaces are stripped
// from both caps; the MAC is not checked; an entry whose caps Tahoe would
// refuse (see NewEntry), or a mutable child in an immutable directory, is
// skipped (Tahoe logs and drops it); a name that appears twice keeps its
// first place and its last caps and metadata. Metadata may be any JSON
// object Python's json.loads accepts. Empty data is an empty directory.
//
// Errors wrap ErrCorrupt: bad netstrings, a name that is not UTF-8,
// metadata that is not a JSON object, rwcapdata in an immutable
// directory. Unpack never panics, whatever the bytes.
func Unpack(data []byte, writeKey []byte, deepImmutable bool) ([]Entry, error) {
	if err := checkKey(writeKey, deepImmutable); err != nil {
		return nil, err
	}
	var entries []Entry
	index := map[string]int{}
	for n := 0; len(data) > 0; n++ {
		entry, rest, err := crypt.ParseNetstring(data)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: %w", ErrCorrupt, n, err)
		}
		data = rest
		var f [4][]byte
		for i := range f {
			// Tahoe's split_netstring(entry, 4) ignores anything after
			// the fourth netstring.
			if f[i], entry, err = crypt.ParseNetstring(entry); err != nil {
				return nil, fmt.Errorf("%w: entry %d: field %d: %w", ErrCorrupt, n, i, err)
			}
		}
		nameB, roB, rwcap, mdB := f[0], f[1], f[2], f[3]
		if deepImmutable && len(rwcap) > 0 {
			return nil, fmt.Errorf("%w: entry %d: the rwcapdata field of an entry in an immutable directory is not empty", ErrCorrupt, n)
		}
		if !utf8.Valid(nameB) {
			return nil, fmt.Errorf("%w: entry %d: name is not UTF-8", ErrCorrupt, n)
		}
		name := NFC(string(nameB))
		var rw []byte
		if writeKey != nil {
			if rw, err = decryptRW(writeKey, rwcap); err != nil {
				return nil, err
			}
		}
		w, r, err := makeNode(string(bytes.TrimRight(rw, " ")), string(bytes.TrimRight(roB, " ")), deepImmutable)
		if err != nil {
			continue // Tahoe: "unmet constraint on cap for child ..."; dropped
		}
		if deepImmutable && !allowedInImmutable(w, r) {
			continue // Tahoe: "mutable cap for child ... unpacked from an immutable directory"
		}
		md, err := ParseObject(mdB)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d (%q): metadata: %w", ErrCorrupt, n, name, err)
		}
		e := Entry{Name: name, Write: w, Read: r, Metadata: md}
		if i, ok := index[name]; ok {
			entries[i] = e
			continue
		}
		index[name] = len(entries)
		entries = append(entries, e)
	}
	return entries, nil
}
