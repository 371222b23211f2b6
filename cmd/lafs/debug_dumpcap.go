package main

import (
	"context"
	"encoding/base32"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
)

const dumpCapUsage = `usage: lafs debug dump-cap [options] CAP

Print what a capability holds: its kind, keys, storage index and encoding
parameters, laid out as Tahoe's "tahoe debug dump-cap" prints them, then the
cap's read cap and verify cap. CAP may be any cap string, with or without a
"ro." or "imm." prefix, or a web API URL http://HOST:PORT/uri/CAP[/...].

With a client's lease secret (--client-secret or --client-dir) it also
prints the file's lease renewal and cancel secrets; with --nodeid as well,
those for one storage server and, for a mutable write cap, the server's
write enabler.`

// runDebugDumpCap implements "lafs debug dump-cap". Its output begins with
// exactly what Tahoe 1.20's dump_cap prints (scripts/debug.py), blank lines
// included, so tools that read Tahoe's output read ours; the read and verify
// caps follow as two more lines of the same " name: value" form.
//
// Where Tahoe would print "unknown cap type" for a malformed cap of a known
// kind, this returns an error saying what is wrong. Caps of unknown kinds
// print "unknown cap type", as in Tahoe. So does URI:DIR2-LIT, which Tahoe's
// dump code has no case for; our read cap line follows it.
func runDebugDumpCap(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "debug dump-cap", dumpCapUsage)
	var nodeID, clientSecret, clientDir string
	for _, f := range []struct {
		p           *string
		long, short string
		usage       string
	}{
		{&nodeID, "nodeid", "n", "a storage server's node `ID` (base32), for its secrets"},
		{&clientSecret, "client-secret", "c", "the client's lease `SECRET` (base32, as in private/secret)"},
		{&clientDir, "client-dir", "d", "read the lease secret from `DIR`/private/secret"},
	} {
		fs.StringVar(f.p, f.long, "", f.usage)
		fs.StringVar(f.p, f.short, "", "short for --"+f.long)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("lafs debug dump-cap: want one CAP, have %d arguments\n\n%s", fs.NArg(), strings.TrimSpace(dumpCapUsage))
	}

	var s dumpSecrets
	if nodeID != "" {
		// Tahoe decodes it with Python's b32decode after upper-casing:
		// either case, padding required when the length needs it.
		id, err := base32.StdEncoding.DecodeString(strings.ToUpper(nodeID))
		if err != nil {
			return fmt.Errorf("--nodeid: not base32: %v", err)
		}
		s.nodeID = id
	}
	switch {
	case clientSecret != "":
		b, err := lafs.ParseBase32(clientSecret)
		if err != nil {
			return fmt.Errorf("--client-secret: %w", err)
		}
		s.secret = b
	case clientDir != "":
		raw, err := os.ReadFile(filepath.Join(clientDir, "private", "secret"))
		if err != nil {
			// Tahoe silently goes on without the secret; say so, at least.
			fmt.Fprintf(e.stderr, "lafs debug dump-cap: no lease secret: %v\n", err)
			break
		}
		b, err := lafs.ParseBase32(strings.Trim(string(raw), " \t\n\r\v\f"))
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(clientDir, "private", "secret"), err)
		}
		s.secret = b
	}

	capStr := fs.Arg(0)
	if strings.HasPrefix(capStr, "http") {
		var err error
		if capStr, err = capFromURL(capStr); err != nil {
			return err
		}
	}
	c, err := cap.Parse(capStr)
	if err != nil {
		return err
	}

	var b strings.Builder
	b.WriteString("\n")
	dumpCap(&b, c, &s, true)
	if _, unknown := c.(*cap.Unknown); !unknown {
		if !cap.IsVerifier(c) {
			fmt.Fprintf(&b, " read cap: %s\n", c.ReadOnly())
		}
		if v := c.Verifier(); v != nil {
			fmt.Fprintf(&b, " verify cap: %s\n", v)
		}
	}
	_, err = io.WriteString(e.stdout, b.String())
	return err
}

// capFromURL takes the cap out of a web API URL, http://HOST:PORT/uri/CAP.
// Tahoe takes the whole rest of the path; we stop at the next "/", so that
// the URL of a file inside a directory gives the directory's cap.
func capFromURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("cap URL: %w", err)
	}
	rest, ok := strings.CutPrefix(u.EscapedPath(), "/uri/")
	if !ok {
		return "", fmt.Errorf("cap URL: the path must start with /uri/, have %q", u.EscapedPath())
	}
	rest, _, _ = strings.Cut(rest, "/")
	c, err := url.PathUnescape(rest)
	if err != nil {
		return "", fmt.Errorf("cap URL: %w", err)
	}
	return c, nil
}

// dumpSecrets holds what the options give for deriving per-client and
// per-server secrets; empty fields mean "not given", as in Tahoe.
type dumpSecrets struct {
	nodeID []byte // storage server id (raw bytes)
	secret []byte // client lease secret
}

// dumpCap writes Tahoe's dump_uri_instance output for c.
func dumpCap(w io.Writer, c cap.Cap, s *dumpSecrets, header bool) {
	line := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	head := func(h string) {
		if header {
			line("%s", h)
		}
	}
	b32 := lafs.Base32
	switch c := c.(type) {
	case *cap.CHK:
		head("CHK File:")
		line(" key: %s", b32(c.Key[:]))
		line(" UEB hash: %s", b32(c.UEBHash[:]))
		line(" size: %d", c.Size)
		line(" k/N: %d/%d", c.K, c.N)
		line(" storage index: %s", c.StorageIndex())
		s.dumpLease(w, c.StorageIndex())
	case *cap.CHKVerifier:
		head("CHK Verifier URI:")
		line(" UEB hash: %s", b32(c.UEBHash[:]))
		line(" size: %d", c.Size)
		line(" k/N: %d/%d", c.K, c.N)
		line(" storage index: %s", c.StorageIndex)
	case *cap.LIT:
		head("Literal File URI:")
		line(" data: %s", quoteOutput(c.Data))
	case *cap.MutableWrite:
		head(c.Format.String() + " Writeable URI:")
		rk := c.ReadKey()
		line(" writekey: %s", b32(c.WriteKey[:]))
		line(" readkey: %s", b32(rk[:]))
		line(" storage index: %s", c.StorageIndex())
		line(" fingerprint: %s", b32(c.Fingerprint[:]))
		line("")
		if len(s.nodeID) > 0 {
			we := crypt.SSKWriteEnabler(c.WriteKey[:], s.nodeID)
			line(" write_enabler: %s", b32(we[:]))
			line("")
		}
		s.dumpLease(w, c.StorageIndex())
	case *cap.MutableRead:
		head(c.Format.String() + " Read-only URI:")
		line(" readkey: %s", b32(c.ReadKey[:]))
		line(" storage index: %s", c.StorageIndex())
		line(" fingerprint: %s", b32(c.Fingerprint[:]))
	case *cap.MutableVerifier:
		head(c.Format.String() + " Verifier URI:")
		line(" storage index: %s", c.StorageIndex)
		line(" fingerprint: %s", b32(c.Fingerprint[:]))
	case *cap.Dir:
		switch c.File.(type) {
		case *cap.CHK:
			head("CHK Directory URI:")
		case *cap.CHKVerifier:
			head("CHK Directory Verifier URI:")
		case *cap.MutableWrite:
			head("Directory Writeable URI:")
		case *cap.MutableRead:
			head("Directory Read-only URI:")
		case *cap.MutableVerifier:
			head("Directory Verifier URI:")
		default: // DIR2-LIT: Tahoe 1.20 falls through to its last case.
			line("unknown cap type")
			return
		}
		dumpCap(w, c.File, s, false)
	default:
		line("unknown cap type")
	}
}

// dumpLease writes Tahoe's _dump_secrets: the lease secrets of the file
// with storage index si, when a client secret was given.
func (s *dumpSecrets) dumpLease(w io.Writer, si lafs.StorageIndex) {
	if len(s.secret) == 0 {
		return
	}
	b32 := func(h crypt.Hash) string { return lafs.Base32(h[:]) }
	crs := crypt.ClientRenewalSecret(s.secret)
	fmt.Fprintf(w, " client renewal secret: %s\n", b32(crs))
	frs := crypt.FileRenewalSecret(crs[:], si[:])
	fmt.Fprintf(w, " file renewal secret: %s\n", b32(frs))
	if len(s.nodeID) > 0 {
		fmt.Fprintf(w, " lease renewal secret: %s\n", b32(crypt.BucketRenewalSecret(frs[:], s.nodeID)))
	}
	ccs := crypt.ClientCancelSecret(s.secret)
	fmt.Fprintf(w, " client cancel secret: %s\n", b32(ccs))
	fcs := crypt.FileCancelSecret(ccs[:], si[:])
	fmt.Fprintf(w, " file cancel secret: %s\n", b32(fcs))
	if len(s.nodeID) > 0 {
		fmt.Fprintf(w, " lease cancel secret: %s\n", b32(crypt.BucketCancelSecret(fcs[:], s.nodeID)))
	}
}

// quoteOutput quotes bytes for display exactly as Tahoe's
// util/encodingutil.quote_output(b) does with its defaults (quote marks on,
// newlines quoted) and a UTF-8 stdout:
//   - not UTF-8: b"..." with every byte outside a safe printable ASCII set
//     written \xNN, and " $ ` \ backslash-escaped;
//   - UTF-8 of only plain printable characters: '...' as is;
//   - otherwise "..." with " $ ` \ backslash-escaped and other unsafe
//     characters written \xNN, \uNNNN or \UNNNNNNNN.
func quoteOutput(b []byte) string {
	var out strings.Builder
	if !utf8.Valid(b) {
		out.WriteString(`b"`)
		for _, c := range b {
			writeEscaped(&out, rune(c), safeASCII(rune(c)))
		}
		out.WriteString(`"`)
		return out.String()
	}
	s := string(b)
	plain := true
	for _, r := range s {
		if !(r >= 0x20 && r <= 0x7e && r != '\'' || safeUnicode(r)) {
			plain = false
			break
		}
	}
	if plain {
		return "'" + s + "'"
	}
	out.WriteString(`"`)
	for _, r := range s {
		writeEscaped(&out, r, safeASCII(r) || safeUnicode(r))
	}
	out.WriteString(`"`)
	return out.String()
}

// safeASCII: the printable ASCII characters that need no escaping inside
// double quotes (all but " $ \ `).
func safeASCII(r rune) bool {
	return r == ' ' || r == '!' || r == '#' ||
		r >= 0x25 && r <= 0x5b || r >= 0x5d && r <= 0x5f || r >= 0x61 && r <= 0x7e
}

// safeUnicode: the non-ASCII characters Tahoe prints as they are.
func safeUnicode(r rune) bool {
	return r >= 0xa0 && r <= 0xd7ff || r >= 0xe000 && r <= 0xfdcf || r >= 0xfdf0 && r <= 0xfffc
}

func writeEscaped(out *strings.Builder, r rune, safe bool) {
	switch {
	case safe:
		out.WriteRune(r)
	case r == '"' || r == '$' || r == '`' || r == '\\':
		out.WriteByte('\\')
		out.WriteRune(r)
	case r > 0xffff:
		fmt.Fprintf(out, `\U%08x`, r)
	case r > 0xff:
		fmt.Fprintf(out, `\u%04x`, r)
	default:
		fmt.Fprintf(out, `\x%02x`, r)
	}
}
