package main

// What every file-store verb shares, as Tahoe's scripts/common.py and
// common_http.py have it: the aliases file, the naming of grid paths
// (alias:path, CAP/path, the default "tahoe:" alias), URL quoting, Tahoe's
// way of quoting names in messages, and the calls to the node's web API.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/lafs/lafs/cap"
)

// defaultAlias is the alias of paths that name none ("file.txt" is
// "tahoe:file.txt"); NODEDIR/private/root_dir.cap may also define it.
const defaultAlias = "tahoe"

// aliasesFile is where the aliases live, one "NAME: CAP" a line.
func aliasesFile(nodeDir string) string { return filepath.Join(nodeDir, "private", "aliases") }

// readAliases reads a node's aliases as Tahoe's get_aliases does: the
// default alias from private/root_dir.cap, then every "NAME: CAP" line of
// private/aliases (blank lines and "#" comments skipped; a later line wins).
// Missing files mean no aliases.
func readAliases(nodeDir string) (map[string]string, error) {
	aliases := map[string]string{}
	if b, err := os.ReadFile(filepath.Join(nodeDir, "private", "root_dir.cap")); err == nil {
		if c := strings.TrimSpace(string(b)); c != "" {
			aliases[defaultAlias] = c
		}
	}
	path := aliasesFile(nodeDir)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return aliases, nil
	}
	if err != nil {
		return nil, err
	}
	if err := parseAliases(b, path, aliases); err != nil {
		return nil, err
	}
	return aliases, nil
}

// parseAliases adds the aliases of an aliases file's contents to m. The
// name is what comes before the first colon (of the stripped line), the
// cap what follows it, stripped.
func parseAliases(b []byte, file string, m map[string]string) error {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, c, ok := strings.Cut(line, ":")
		if !ok {
			return fmt.Errorf("%s:%d: not an alias line (NAME: CAP)", file, n)
		}
		m[name] = strings.TrimSpace(c)
	}
	return sc.Err()
}

// addAliasLine appends "NAME: CAP" to the aliases file, as Tahoe's
// add_line_to_aliasfile: the whole file is rewritten beside it and renamed
// into place, so a crash never leaves half a file. The file is private (0600).
func addAliasLine(nodeDir, name, c string) error {
	path := aliasesFile(nodeDir)
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err // never clobber an aliases file we could not read
	}
	if len(old) > 0 && !bytes.HasSuffix(old, []byte("\n")) {
		old = append(old, '\n')
	}
	data := append(old, fmt.Sprintf("%s: %s\n", name, c)...)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// hasCapPrefix reports whether s starts like a cap, as Tahoe's
// uri.has_uri_prefix.
func hasCapPrefix(s string) bool {
	return strings.HasPrefix(s, "URI:") || strings.HasPrefix(s, cap.ReadOnlyPrefix+"URI:") ||
		strings.HasPrefix(s, "imm.URI:")
}

// gridPath is a place on the grid: a root cap and a "/"-separated path
// below it ("" for the root itself). Local is set instead when the argument
// named a local file (only where local paths are allowed, as in cp).
type gridPath struct {
	root, path string
	local      bool
}

// resolvePath splits a path argument as Tahoe's get_alias does:
//
//	URI:...:./sub/name or URI:.../sub/name   the cap given, and the path
//	alias:sub/name                           the alias's dircap, and the path
//	sub/name (no colon, or a "/" before it)  def's dircap, and the whole path
//
// With def == "" a path without an alias is a local path (gridPath.local).
// Caps given directly are passed on as written; an alias's cap is checked
// to be a directory cap and made canonical.
func resolvePath(aliases map[string]string, arg, def string) (gridPath, error) {
	p := strings.Trim(arg, " ")
	if hasCapPrefix(p) {
		if i := strings.Index(p, ":./"); i >= 0 {
			return gridPath{root: p[:i], path: p[i+3:]}, nil
		}
		if i := strings.Index(p, "/"); i >= 0 {
			return gridPath{root: p[:i], path: p[i+1:]}, nil
		}
		return gridPath{root: p}, nil
	}
	colon := strings.Index(p, ":")
	if colon < 0 || strings.Contains(p[:colon], "/") {
		if def == "" {
			return gridPath{path: p, local: true}, nil
		}
		c, ok := aliases[def]
		if !ok {
			return gridPath{}, &exitError{code: 1, msg: fmt.Sprintf(
				"error: No alias specified, and the default %s alias doesn't exist. To create it, use 'lafs create-alias %s'.",
				quoteName(def, true), quoteName(def, false))}
		}
		root, err := aliasDircap(def, c)
		return gridPath{root: root, path: p}, err
	}
	name := p[:colon]
	c, ok := aliases[name]
	if !ok {
		return gridPath{}, &exitError{code: 1, msg: fmt.Sprintf(
			"error: Unknown alias %s, please create it with 'lafs add-alias' or 'lafs create-alias'.", quoteName(name, true))}
	}
	root, err := aliasDircap(name, c)
	return gridPath{root: root, path: p[colon+1:]}, err
}

// aliasDircap returns the canonical form of an alias's cap, which must be
// a directory's.
func aliasDircap(name, s string) (string, error) {
	c, err := cap.Parse(s)
	if err != nil || !cap.IsDir(c) {
		return "", &exitError{code: 1, msg: fmt.Sprintf("error: the alias %s is not a directory cap (see %s)",
			quoteName(name, true), "NODEDIR/private/aliases")}
	}
	return c.String(), nil
}

// pyQuote percent-encodes s as Python's urllib.parse.quote(s, safe="/"):
// letters, digits, "_.-~" and "/" are kept, every other byte is %XX.
func pyQuote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '_', c == '.', c == '-', c == '~', c == '/':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// objectURL is the web API URL of root/path: BASE/uri/$ROOT[/path].
func objectURL(base, root, path string) string {
	u := base + "uri/" + pyQuote(root)
	if path != "" {
		u += "/" + pyQuote(path)
	}
	return u
}

// Tahoe's quote_output: the character classes that force double quotes.
var (
	mustDoubleQuote   = regexp.MustCompile("[^\n\x20-\x26\x28-\x7E\u00A0-\uD7FF\uE000-\uFDCF\uFDF0-\uFFFC]")
	mustDoubleQuoteNL = regexp.MustCompile("[^\x20-\x26\x28-\x7E\u00A0-\uD7FF\uE000-\uFDCF\uFDF0-\uFFFC]")
)

// quoteName quotes a name for a message as Tahoe's quote_output does:
// with quotemarks, 'name'; without, bare unless it holds characters that
// need escaping. Those (and any "'") make it "double quoted", with \", \$,
// \`, \\ and \xNN/\uNNNN/\UNNNNNNNN escapes. Newlines are escaped only with
// quotemarks.
func quoteName(s string, quotemarks bool) string {
	re := mustDoubleQuote
	if quotemarks {
		re = mustDoubleQuoteNL
	}
	if utf8.ValidString(s) && !re.MatchString(s) {
		if quotemarks || strings.HasPrefix(s, `"`) {
			return "'" + s + "'"
		}
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&b, `\x%02x`, s[0])
			s = s[1:]
			continue
		}
		s = s[n:]
		switch {
		case r == '"' || r == '$' || r == '`' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n' && !quotemarks:
			b.WriteRune(r)
		case r == ' ' || r == '!' || r == '#' || (r >= 0x25 && r <= 0x7E) ||
			(r >= 0xA0 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFDCF) || (r >= 0xFDF0 && r <= 0xFFFC):
			b.WriteRune(r)
		case r > 0xFFFF:
			fmt.Fprintf(&b, `\U%08x`, r)
		case r > 0xFF:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\x%02x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// storeFlags are the options of every verb that works on the grid's files
// and directories (Tahoe's FileStoreOptions).
type storeFlags struct {
	nodeFlags
	dirCap string
}

func (s *storeFlags) register(fs *flag.FlagSet, e *env) {
	s.nodeFlags.register(fs, e)
	fs.StringVar(&s.dirCap, "dir-cap", "", "the directory cap to use as the default 'tahoe:' alias")
}

// session is what a file-store verb works with: the aliases and the web API.
type session struct {
	e       *env
	nodeDir string
	aliases map[string]string
	nf      nodeFlags
	base    string // the web API, ending in "/"; set by web
}

// open reads the aliases; the web API's URL is found on first use.
func (s *storeFlags) open(e *env) (*session, error) {
	aliases, err := readAliases(s.dir)
	if err != nil {
		return nil, err
	}
	if s.dirCap != "" {
		aliases[defaultAlias] = s.dirCap
	}
	return &session{e: e, nodeDir: s.dir, aliases: aliases, nf: s.nodeFlags}, nil
}

// web returns the web API's base URL, ending in "/".
func (s *session) web() (string, error) {
	if s.base == "" {
		b, err := s.nf.base()
		if err != nil {
			return "", err
		}
		s.base = b
	}
	return s.base, nil
}

// resolve is resolvePath with this session's aliases.
func (s *session) resolve(arg, def string) (gridPath, error) {
	return resolvePath(s.aliases, arg, def)
}

// url returns the web API URL of a grid path.
func (s *session) url(p gridPath) (string, error) {
	base, err := s.web()
	if err != nil {
		return "", err
	}
	return objectURL(base, p.root, p.path), nil
}

// do makes one web API call, as Tahoe's CLI does (the same Accept, so that
// errors come as plain text). size is the body's length, -1 if unknown;
// header holds more request headers as name, value pairs.
func (s *session) do(ctx context.Context, method, u string, body io.Reader, size int64, header ...string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil && size >= 0 {
		req.ContentLength = size
	}
	req.Header.Set("User-Agent", "lafs/"+Version+" (tahoe-client)")
	req.Header.Set("Accept", "text/plain, application/octet-stream")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("talking to the node's web API: %w", err)
	}
	return resp, nil
}

// call makes a web API call with a small body and returns the status and
// the whole answer.
func (s *session) call(ctx context.Context, method, u string, body []byte) (*http.Response, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	resp, err := s.do(ctx, method, u, r, int64(len(body)))
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the web API's answer: %w", err)
	}
	return resp, b, nil
}

// ok2xx reports whether a status is a success.
func ok2xx(code int) bool { return code >= 200 && code < 300 }

// httpFailure formats a failed call as Tahoe's format_http_error does,
// "MSG: 404 Not Found" and then the answer, but shows the answer as text:
// Tahoe prints Python's bytes repr of the body, in quotes; HTML pages are
// reduced to their text here.
func httpFailure(msg string, resp *http.Response, body []byte) string {
	text := answerText(resp, body)
	if text == "" {
		return fmt.Sprintf("%s: %s", msg, resp.Status)
	}
	return fmt.Sprintf("%s: %s\n%s", msg, resp.Status, text)
}

var (
	htmlHead  = regexp.MustCompile(`(?is)<head.*?</head>`)
	htmlTag   = regexp.MustCompile(`(?s)<[^>]*>`)
	blankRuns = regexp.MustCompile(`[ \t\r]*\n[ \t\r\n]*`)
)

// answerText is an error answer's text: plain text as it is, HTML without
// its markup, trimmed and limited to a few KiB.
func answerText(resp *http.Response, body []byte) string {
	if len(body) > 8<<10 {
		body = body[:8<<10]
	}
	s := string(body)
	ct := strings.ToLower(resp.Header.Get("Content-Type"))
	if strings.Contains(ct, "html") || strings.HasPrefix(strings.TrimSpace(strings.ToLower(s)), "<") {
		s = htmlHead.ReplaceAllString(s, "")
		s = html.UnescapeString(htmlTag.ReplaceAllString(s, "\n"))
		s = blankRuns.ReplaceAllString(s, "\n")
	}
	return strings.TrimSpace(s)
}

// failf ends a verb with exit code 1 and a message on stderr.
func failf(format string, a ...any) error {
	return &exitError{code: 1, msg: fmt.Sprintf(format, a...)}
}

// newFlagSet is a verb's flag set: errors and help go to stderr.
func newFlagSet(e *env, name, help string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, help)
		fmt.Fprintln(e.stderr, "\noptions:")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses a verb's command line. Bundled short flags ("-lF") are
// split first, as getopt does, when every letter is one of bools.
func parseFlags(fs *flag.FlagSet, args []string, bools string) error {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" {
			out = append(out, args[i:]...)
			break
		}
		if len(a) > 2 && a[1] != '-' && strings.Trim(a[1:], bools) == "" {
			for _, c := range a[1:] {
				out = append(out, "-"+string(c))
			}
			continue
		}
		out = append(out, a)
		// A flag that takes a value takes the next argument whole.
		name := strings.TrimLeft(a, "-")
		if f := fs.Lookup(name); f != nil && !strings.Contains(name, "=") && !isBoolFlag(f) && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	if err := fs.Parse(out); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &exitError{code: 0}
		}
		return usagef("%v", err)
	}
	return nil
}

// isBoolFlag reports whether a flag takes no value.
func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
