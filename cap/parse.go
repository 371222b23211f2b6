package cap

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/lafs/lafs"
)

type access int

const (
	write access = iota
	read
	verify
)

// kind describes one "URI:<name>:" prefix.
type kind struct {
	name    string
	access  access
	mutable bool // the object can change (write and read caps of SSK/MDMF)
	dir     bool // parse gives the file cap that a *Dir wraps
	parse   func(rest string) (Cap, error)
}

// kinds holds every kind Tahoe 1.20's from_string knows, by name.
var kinds = func() map[string]*kind {
	m := map[string]*kind{}
	add := func(name string, a access, mutable, dir bool, parse func(string) (Cap, error)) {
		m[name] = &kind{name: name, access: a, mutable: mutable, dir: dir, parse: parse}
	}
	for _, dir := range []bool{false, true} {
		p := ""
		if dir {
			p = "DIR2-"
		}
		add(p+"CHK", read, false, dir, parseCHK)
		add(p+"CHK-Verifier", verify, false, dir, parseCHKVerifier)
		add(p+"LIT", read, false, dir, parseLIT)
		for _, f := range []Format{SDMF, MDMF} {
			name := f.kindName(dir)
			add(name, write, true, dir, mutableParser(f, write))
			add(name+"-RO", read, true, dir, mutableParser(f, read))
			add(name+"-Verifier", verify, false, dir, mutableParser(f, verify))
		}
	}
	return m
}()

// lookupKind splits "URI:<name>:<rest>" and finds the kind of that name.
func lookupKind(s string) (k *kind, rest string, ok bool) {
	s, ok = strings.CutPrefix(s, "URI:")
	if !ok {
		return nil, "", false
	}
	name, rest, ok := strings.Cut(s, ":")
	if !ok {
		return nil, "", false
	}
	k, ok = kinds[name]
	return k, rest, ok
}

// fieldCount checks the number of ':'-separated fields.
func fieldCount(fields []string, want int, layout string) error {
	if len(fields) != want {
		return fmt.Errorf("has %d fields, want %d (%s)", len(fields), want, layout)
	}
	return nil
}

func parseCHK(rest string) (Cap, error) {
	f := strings.Split(rest, ":")
	if err := fieldCount(f, 5, "key:UEB hash:k:N:size"); err != nil {
		return nil, err
	}
	c := &CHK{}
	var err error
	if c.Key, err = key16(f[0], "key"); err != nil {
		return nil, err
	}
	if c.UEBHash, err = hash32(f[1], "UEB hash"); err != nil {
		return nil, err
	}
	if c.K, c.N, err = shares(f[2], f[3]); err != nil {
		return nil, err
	}
	if c.Size, err = number(f[4], "size"); err != nil {
		return nil, err
	}
	return c, nil
}

// parseCHKVerifier mirrors Tahoe's regular expression, which is not
// anchored at the end: whatever follows the digits of the size is ignored.
func parseCHKVerifier(rest string) (Cap, error) {
	f := strings.SplitN(rest, ":", 5)
	if len(f) < 5 {
		return nil, fieldCount(f, 5, "storage index:UEB hash:k:N:size")
	}
	c := &CHKVerifier{}
	si, err := key16(f[0], "storage index")
	if err != nil {
		return nil, err
	}
	c.StorageIndex = lafs.StorageIndex(si)
	if c.UEBHash, err = hash32(f[1], "UEB hash"); err != nil {
		return nil, err
	}
	if c.K, c.N, err = shares(f[2], f[3]); err != nil {
		return nil, err
	}
	digits := len(f[4]) - len(strings.TrimLeft(f[4], "0123456789"))
	if c.Size, err = number(f[4][:digits], "size"); err != nil {
		return nil, err
	}
	return c, nil
}

func parseLIT(rest string) (Cap, error) {
	data, err := lafs.ParseBase32(rest)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	return &LIT{Data: data}, nil
}

// mutableParser returns the parser of an SSK or MDMF cap body,
// "key:fingerprint". MDMF caps may go on with ":" and anything at all
// (extension fields, once ":k:segsize"), which is ignored.
func mutableParser(f Format, a access) func(string) (Cap, error) {
	first := [...]string{write: "write key", read: "read key", verify: "storage index"}[a]
	return func(rest string) (Cap, error) {
		var fields []string
		if f == MDMF {
			fields = strings.SplitN(rest, ":", 3)
			if len(fields) == 3 {
				fields = fields[:2]
			}
		} else {
			fields = strings.Split(rest, ":")
		}
		if err := fieldCount(fields, 2, first+":fingerprint"); err != nil {
			return nil, err
		}
		key, err := key16(fields[0], first)
		if err != nil {
			return nil, err
		}
		fp, err := hash32(fields[1], "fingerprint")
		if err != nil {
			return nil, err
		}
		switch a {
		case write:
			return &MutableWrite{Format: f, WriteKey: key, Fingerprint: fp}, nil
		case read:
			return &MutableRead{Format: f, ReadKey: key, Fingerprint: fp}, nil
		}
		return &MutableVerifier{Format: f, StorageIndex: lafs.StorageIndex(key), Fingerprint: fp}, nil
	}
}

func key16(s, field string) (k [16]byte, err error) {
	b, err := lafs.ParseBase32Len(s, 16)
	if err != nil {
		return k, fmt.Errorf("%s: %w", field, err)
	}
	copy(k[:], b)
	return k, nil
}

func hash32(s, field string) (h [32]byte, err error) {
	b, err := lafs.ParseBase32Len(s, 32)
	if err != nil {
		return h, fmt.Errorf("%s: %w", field, err)
	}
	copy(h[:], b)
	return h, nil
}

// number parses what Tahoe's "[0-9]+" and int() accept: one or more ASCII
// digits, leading zeros allowed.
func number(s, field string) (uint64, error) {
	if s == "" {
		return 0, fmt.Errorf("%s: missing, want decimal digits", field)
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		return 0, fmt.Errorf("%s: %q is not a decimal digit", field, s[i:i+1])
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		// Tahoe's Python ints have no limit, but no file is this large.
		return 0, fmt.Errorf("%s: %s does not fit in 64 bits", field, s)
	}
	return v, nil
}

// shares parses k and N. Tahoe's parser takes any numbers, but a cap with
// k=0, k>N or N>256 names no file that could exist (zfec cannot decode it,
// and k=0 crashes Tahoe's downloader), so they are refused here.
func shares(kS, nS string) (k, n int, err error) {
	kv, err := number(kS, "k (needed shares)")
	if err != nil {
		return 0, 0, err
	}
	nv, err := number(nS, "N (total shares)")
	if err != nil {
		return 0, 0, err
	}
	switch {
	case kv < 1:
		return 0, 0, fmt.Errorf("k (needed shares) is 0, want at least 1")
	case nv > lafs.MaxShares:
		return 0, 0, fmt.Errorf("N (total shares) is %d, want at most %d", nv, lafs.MaxShares)
	case nv < kv:
		return 0, 0, fmt.Errorf("N (total shares) %d is less than k (needed shares) %d", nv, kv)
	}
	return int(kv), int(nv), nil
}
