package main

// What every file-store verb shares, as Tahoe's scripts/common.py has it:
// the aliases file, the naming of grid paths (alias:path, CAP/path, the
// default "tahoe:" alias), "~" in local paths, the flags, and the session a
// verb works in (its web API calls are webclient.go's, its quoting of names
// quote.go's).

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
// below it ("" for the root itself); no root is the web API's /uri, where
// unlinked files and directories are made. name is how messages call it:
// the argument as the user gave it, or a name made from one, never a cap
// the user did not type. Local is set instead when the argument named a
// local file (only where local paths are allowed, as in cp).
type gridPath struct {
	root, path string
	name       string
	local      bool
	// slash ends the URL of a root without a path in "/", as Tahoe's put
	// makes it ("uri/$ROOT/").
	slash bool
}

// String is how messages name the place: never by a cap the user did not
// type.
func (p gridPath) String() string {
	switch {
	case p.name != "":
		return quoteName(p.name, true)
	case p.root == "":
		return "/uri"
	}
	return "(a grid object)"
}

// child is the place of name in the directory at p.
func (p gridPath) child(name string) gridPath {
	c := p
	c.slash = false
	if c.path == "" {
		c.path = name
	} else {
		c.path += "/" + name
	}
	c.name = joinName(p.name, name)
	return c
}

// joinName names a child in messages: the name of its directory, then
// its own ("tahoe:" and "a.txt" make "tahoe:a.txt", "tahoe:d" and "a.txt"
// "tahoe:d/a.txt").
func joinName(dir, name string) string {
	switch {
	case dir == "":
		return ""
	case strings.HasSuffix(dir, "/") || (strings.HasSuffix(dir, ":") && !strings.Contains(dir, "/")):
		return dir + name
	}
	return dir + "/" + name
}

// capPath is the object a cap names, called name in messages.
func capPath(c, name string) gridPath { return gridPath{root: c, name: name} }

// unlinked is the web API's /uri, where a new unlinked file or directory
// is made; name says in messages what is being made ("" for /uri).
func unlinked(name string) gridPath { return gridPath{name: name} }

// resolvePath splits a path argument as Tahoe's get_alias does:
//
//	URI:...:./sub/name or URI:.../sub/name   the cap given, and the path
//	alias:sub/name                           the alias's dircap, and the path
//	sub/name (no colon, or a "/" before it)  def's dircap, and the whole path
//
// With def == "" a path without an alias is a local path (gridPath.local).
// Caps given directly are passed on as written; an alias's cap is checked
// to be a directory cap and made canonical. The path is named in messages
// as it was given, or as def:path.
func resolvePath(aliases map[string]string, arg, def string) (gridPath, error) {
	p := strings.Trim(arg, " ")
	if hasCapPrefix(p) {
		if i := strings.Index(p, ":./"); i >= 0 {
			return gridPath{root: p[:i], path: p[i+3:], name: p}, nil
		}
		if i := strings.Index(p, "/"); i >= 0 {
			return gridPath{root: p[:i], path: p[i+1:], name: p}, nil
		}
		return gridPath{root: p, name: p}, nil
	}
	colon := strings.Index(p, ":")
	if colon < 0 || strings.Contains(p[:colon], "/") {
		if def == "" {
			return gridPath{path: p, name: p, local: true}, nil
		}
		c, ok := aliases[def]
		if !ok {
			return gridPath{}, &exitError{code: 1, msg: fmt.Sprintf(
				"error: No alias specified, and the default %s alias doesn't exist. To create it, use 'lafs create-alias %s'.",
				quoteName(def, true), quoteName(def, false))}
		}
		root, err := aliasDircap(def, c)
		return gridPath{root: root, path: p, name: def + ":" + p}, err
	}
	name := p[:colon]
	c, ok := aliases[name]
	if !ok {
		msg := fmt.Sprintf("error: Unknown alias %s, please create it with 'lafs add-alias' or 'lafs create-alias'.", quoteName(name, true))
		if strings.EqualFold(strings.TrimPrefix(strings.TrimPrefix(name, cap.ReadOnlyPrefix), cap.ImmutablePrefix), "URI") {
			msg += "\n(If that is a cap: caps begin with URI: in capitals.)"
		}
		return gridPath{}, &exitError{code: 1, msg: msg}
	}
	root, err := aliasDircap(name, c)
	return gridPath{root: root, path: p[colon+1:], name: p}, err
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

// expandUser expands a leading "~" of a local path to the home directory,
// as Python's os.path.expanduser ("~user" is left alone).
func expandUser(e *env, p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		return e.home() + p[1:]
	}
	return p
}

// storeFlags are the options of every verb that works on the grid's files
// and directories (Tahoe's FileStoreOptions).
type storeFlags struct {
	nodeFlags
	dirCap string
}

func (s *storeFlags) register(fs *flag.FlagSet, e *env) {
	s.nodeFlags.register(fs, e)
	fs.StringVar(&s.dirCap, "dir-cap", "", "the directory cap, `DIRCAP`, to use as the default 'tahoe:' alias")
}

// session is what a file-store verb works with: the aliases and the web
// API's client.
type session struct {
	e       *env
	nodeDir string
	aliases map[string]string
	nf      nodeFlags
	wc      *webClient // made by client
}

// open reads the aliases; the web API's URL is found on first use.
func (s *storeFlags) open(e *env) (*session, error) {
	if s.url == "" {
		if err := s.checkDir(); err != nil {
			return nil, err
		}
	}
	aliases, err := readAliases(s.dir)
	if err != nil {
		return nil, err
	}
	if s.dirCap != "" {
		aliases[defaultAlias] = s.dirCap
	}
	return &session{e: e, nodeDir: s.dir, aliases: aliases, nf: s.nodeFlags}, nil
}

// client returns the web API's client, reading NODEDIR/node.url the first
// time (unless --node-url gave the URL).
func (s *session) client() (*webClient, error) {
	if s.wc == nil {
		wc, err := s.nf.client()
		if err != nil {
			return nil, err
		}
		s.wc = wc
	}
	return s.wc, nil
}

// resolve is resolvePath with this session's aliases.
func (s *session) resolve(arg, def string) (gridPath, error) {
	return resolvePath(s.aliases, arg, def)
}

// failf ends a verb with exit code 1 and a message on stderr.
func failf(format string, a ...any) error {
	return &exitError{code: 1, msg: fmt.Sprintf(format, a...)}
}
