package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/storage"
)

const findSharesHelp = `usage: lafs debug find-shares STORAGE_INDEX_OR_CAP [NODEDIR...]

List the share files that the node directories hold for one storage index,
one path a line, as Tahoe's "tahoe debug find-shares" does:
NODEDIR/storage/shares/<prefix>/<si>/<shnum>, in share number order. The
storage index is given in base32, or as a cap (or web API URL of one) it is
derived from. Without NODEDIR, the node directory given with -d is searched.
The listed files can be examined with dump-share and damaged with
corrupt-share, to test checking and repair on a local grid.`

const catalogSharesHelp = `usage: lafs debug catalog-shares NODEDIR...

Print one line about every share the node directories hold, as Tahoe's
"tahoe debug catalog-shares" does, for sorting and comparing the shares of
many servers:

  CHK $SI $k/$N $filesize $UEB_hash $expiration $sharefile
  SDMF $SI $k/$N $filesize #$seqnum:$roothash $expiration $sharefile
  MDMF $SI $k/$N $filesize #$seqnum:$roothash $expiration $sharefile
  UNKNOWN mutable $sharefile          (a mutable container of no known format)
  UNKNOWN really-unknown $sharefile   (no share container at all)

$expiration is the number of seconds until the share's first lease expires
(0 when it has expired or the share has no lease). A share that cannot be
read or parsed is reported on standard error, "Error processing $sharefile:
why", and the catalog goes on. Without NODEDIR, the node directory given
with -d is catalogued.`

// runDebugFindShares implements "lafs debug find-shares".
func runDebugFindShares(ctx context.Context, e *env, args []string) error {
	flags := newFlagSet(e, "lafs debug find-shares", findSharesHelp)
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if flags.NArg() < 1 {
		return usagef("lafs debug find-shares: no STORAGE_INDEX_OR_CAP given\n\n%s", findSharesHelp)
	}
	si, err := storageIndexArg(flags.Arg(0))
	if err != nil {
		return usagef("lafs debug find-shares: %v", err)
	}
	dirs, err := nodeDirsArg(e, flags.Args()[1:], "find-shares")
	if err != nil {
		return err
	}
	s := si.String()
	var b strings.Builder
	for _, d := range dirs {
		dir := filepath.Join(d, "storage", "shares", s[:2], s)
		ents, err := os.ReadDir(dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
		for _, name := range sortShareNames(ents) {
			fmt.Fprintln(&b, quoteLocal(filepath.Join(dir, name), false))
		}
	}
	_, err = io.WriteString(e.stdout, b.String())
	return err
}

// storageIndexArg reads a storage index in base32, or takes it from a cap
// or a web API URL of one. Errors never repeat the argument: it may be a
// cap.
func storageIndexArg(arg string) (lafs.StorageIndex, error) {
	if !strings.Contains(arg, ":") {
		si, err := lafs.ParseStorageIndex(arg)
		if err != nil {
			return si, errors.New("not a storage index (26 base32 characters) nor a cap")
		}
		return si, nil
	}
	s := arg
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		var err error
		if s, err = capFromURL(s); err != nil {
			return lafs.StorageIndex{}, err
		}
	}
	c, err := cap.Parse(s)
	if err != nil {
		return lafs.StorageIndex{}, err
	}
	if _, unknown := c.(*cap.Unknown); unknown {
		return lafs.StorageIndex{}, errors.New("not a storage index nor a cap of a known kind")
	}
	si, ok := cap.StorageIndex(c)
	if !ok {
		return si, errors.New("a literal cap holds its data and has no shares")
	}
	return si, nil
}

// nodeDirsArg is the node directories to look in, made absolute (Tahoe
// prints absolute paths): those given, else the global -d one.
func nodeDirsArg(e *env, args []string, verb string) ([]string, error) {
	if len(args) == 0 {
		if e.nodeDir == "" {
			return nil, usagef("lafs debug %s: no NODEDIR given (and no -d)", verb)
		}
		args = []string{e.nodeDir}
	}
	dirs := make([]string, len(args))
	for i, d := range args {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d, err)
		}
		dirs[i] = abs
	}
	return dirs, nil
}

// sortShareNames orders the entries of a storage index's folder: share
// numbers in numeric order, then any other name in byte order.
func sortShareNames(ents []os.DirEntry) []string {
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	slices.SortFunc(names, func(a, b string) int {
		na, aerr := strconv.Atoi(a)
		nb, berr := strconv.Atoi(b)
		switch {
		case aerr == nil && berr == nil && na != nb:
			return na - nb
		case aerr == nil && berr != nil:
			return -1
		case aerr != nil && berr == nil:
			return 1
		}
		return strings.Compare(a, b)
	})
	return names
}

// runDebugCatalogShares implements "lafs debug catalog-shares".
func runDebugCatalogShares(ctx context.Context, e *env, args []string) error {
	flags := newFlagSet(e, "lafs debug catalog-shares", catalogSharesHelp)
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	dirs, err := nodeDirsArg(e, flags.Args(), "catalog-shares")
	if err != nil {
		return err
	}
	now := e.now()
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return err
		}
		sharesDir := filepath.Join(d, "storage", "shares")
		prefixes, err := os.ReadDir(sharesDir)
		if err != nil {
			continue // a node without storage, as Tahoe lets be
		}
		for _, p := range prefixes {
			if p.Name() == "incoming" {
				continue
			}
			prefixDir := filepath.Join(sharesDir, p.Name())
			sis, err := os.ReadDir(prefixDir)
			if err != nil {
				catalogError(e, prefixDir, err)
				continue
			}
			for _, si := range sis {
				siDir := filepath.Join(prefixDir, si.Name())
				shares, err := os.ReadDir(siDir)
				if err != nil {
					catalogError(e, siDir, err)
					continue
				}
				for _, sh := range sortShareNames(shares) {
					path := filepath.Join(siDir, sh)
					line, err := describeShare(path, si.Name(), now)
					if err != nil {
						catalogError(e, path, err)
						continue
					}
					if _, err := fmt.Fprintln(e.stdout, line); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// catalogError reports a file or folder that catalog-shares cannot read.
func catalogError(e *env, path string, err error) {
	// The os package's errors name the path; it is said once, first.
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	fmt.Fprintf(e.stderr, "Error processing %s: %v\n", quoteName(path, true), err)
}

// describeShare is the catalog line of one share file (Tahoe's
// describe_share), si being the name of its folder.
func describeShare(path, si string, now time.Time) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 32)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	quoted := quoteName(path, true)
	if storage.ContainerKindOf(head[:n]) == storage.UnknownContainer {
		return "UNKNOWN really-unknown " + quoted, nil
	}
	s, err := newShareFile(f, path)
	if err != nil {
		return "", err
	}
	expiration := int64(0)
	if len(s.c.Leases) > 0 {
		first := s.c.Leases[0].Expiration
		for _, l := range s.c.Leases[1:] {
			first = min(first, l.Expiration)
		}
		expiration = max(0, int64(float64(first)-float64(now.UnixNano())/1e9))
	}
	if s.c.Kind == storage.MutableKind {
		typ := s.shareType()
		if typ == "unknown" {
			return "UNKNOWN mutable " + quoted, nil
		}
		h, err := s.mutableHeader()
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s %s %d/%d %d #%d:%s %d %s", typ, si, h.K, h.N, h.DataLength,
			h.Seqnum, lafs.Base32(h.RootHash[:]), expiration, quoted), nil
	}
	c, err := readCHKShare(s)
	if err != nil {
		return "", err
	}
	var v [3]uint64
	for i, k := range []string{"needed_shares", "total_shares", "size"} {
		var ok bool
		if v[i], ok = c.uebNumber(k); !ok {
			return "", fmt.Errorf("URI extension: no number %s", k)
		}
	}
	h := c.uebHash()
	return fmt.Sprintf("CHK %s %d/%d %d %s %d %s", si, v[0], v[1], v[2], lafs.Base32(h[:]), expiration, quoted), nil
}
