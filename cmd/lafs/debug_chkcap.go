package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/immutable"
)

const chkCapHelp = `usage: lafs debug chk-cap --convergence SECRET [options] [FILE|-]

Print the capability that FILE (or standard input) would get if uploaded with
the given convergence secret and encoding parameters, without any grid.
SECRET is in the base32 form that a node's private/convergence holds; it is
required. Files of 55 bytes or fewer get a LIT cap, as in Tahoe.`

// runDebugCHKCap computes a file's CHK cap offline, streaming it twice (once
// for the convergent key, once to encode); standard input is spooled to a
// temporary file first, so memory stays small whatever the size.
func runDebugCHKCap(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "debug chk-cap", chkCapHelp)
	secretB32 := fs.String("convergence", "", "the convergence `SECRET`, base32 (required)")
	k := fs.Int("needed", lafs.DefaultParams.K, "shares needed (`K`)")
	n := fs.Int("total", lafs.DefaultParams.N, "total shares (`N`)")
	seg := fs.Int("segment-size", lafs.DefaultSegmentSize, "maximum segment size in `BYTES`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *secretB32 == "" && !flagSet(fs, "convergence") {
		return usagef("lafs debug chk-cap: --convergence is required\n%s", chkCapHelp)
	}
	secret, err := lafs.ParseBase32(strings.TrimSpace(*secretB32))
	if err != nil {
		return usagef("lafs debug chk-cap: --convergence: %v", err)
	}
	p := lafs.Params{K: *k, N: *n, SegmentSize: *seg}
	if err := p.Validate(); err != nil {
		return usagef("lafs debug chk-cap: %v", err)
	}
	if fs.NArg() > 1 {
		return usagef("lafs debug chk-cap: one FILE at most\n%s", chkCapHelp)
	}
	name := "-"
	if fs.NArg() == 1 {
		name = fs.Arg(0)
	}
	f, cleanup, err := openSeekable(e, name)
	if err != nil {
		return err
	}
	defer cleanup()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if size <= immutable.LITThreshold {
		data := make([]byte, size)
		if _, err := f.ReadAt(data, 0); err != nil && size > 0 {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintln(e.stdout, immutable.LIT(data))
		return nil
	}
	key, err := immutable.ConvergentKey(io.NewSectionReader(f, 0, size), uint64(size), secret, p)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	c, err := immutable.Encode(ctx, io.NewSectionReader(f, 0, size), uint64(size), key, p, immutable.Discard)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	fmt.Fprintln(e.stdout, c)
	return nil
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// openSeekable opens a file, or spools standard input ("-") to a temporary
// file, so that it can be read twice.
func openSeekable(e *env, name string) (*os.File, func(), error) {
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, nil, err
		}
		return f, func() { f.Close() }, nil
	}
	tmp, err := os.CreateTemp("", "lafs-stdin-*")
	if err != nil {
		return nil, nil, fmt.Errorf("spooling standard input: %w", err)
	}
	os.Remove(tmp.Name()) // unlinked: vanishes when closed
	if _, err := io.Copy(tmp, e.stdin); err != nil {
		tmp.Close()
		return nil, nil, fmt.Errorf("spooling standard input: %w", err)
	}
	return tmp, func() { tmp.Close() }, nil
}
