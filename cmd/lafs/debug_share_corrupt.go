package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"

	"github.com/lafs/lafs/storage"
)

const corruptShareHelp = `usage: lafs debug corrupt-share [options] SHAREFILE

Damage a share file of a storage folder by flipping one bit, so that a
client verifying or downloading it finds the share corrupt and uses
another. By default the bit is a random one of the share's block data
(immutable, SDMF or MDMF shares), so the container, the share's headers and
its hashes stay intact. It prints the block data's byte range in the file
and the bit it flipped, as Tahoe's "tahoe debug corrupt-share" does:

  [START..END):  OFFSET.bBIT

--offset picks the byte instead, counted from the start of the file and
anywhere in it, container header included. Flipping the same bit again
undoes it. Never use this on shares you care about.`

// runDebugCorruptShare implements "lafs debug corrupt-share". Tahoe's
// version handles only immutable and SDMF shares, and flips the lowest bit
// of the byte whatever bit it reports; this one handles MDMF too and flips
// the bit it reports.
func runDebugCorruptShare(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "lafs debug corrupt-share", corruptShareHelp)
	var offsetArg string
	fs.StringVar(&offsetArg, "offset", "block-random", "flip a bit of byte `N` of the file (decimal, or 0x hex)")
	fs.StringVar(&offsetArg, "o", "block-random", "short for --offset")
	bit := fs.Int("bit", -1, "flip bit `B` (0, the lowest, to 7); -1: a random one")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("lafs debug corrupt-share: want one SHAREFILE, have %d arguments\n\n%s", fs.NArg(), corruptShareHelp)
	}
	offset := int64(-1)
	if offsetArg != "block-random" {
		n, err := strconv.ParseInt(offsetArg, 0, 64)
		if err != nil || n < 0 {
			return usagef("lafs debug corrupt-share: --offset wants a byte number or block-random, have %q", offsetArg)
		}
		offset = n
	}
	if *bit < -1 || *bit > 7 {
		return usagef("lafs debug corrupt-share: --bit wants 0 to 7, have %d", *bit)
	}
	if *bit == -1 {
		*bit = rand.IntN(8)
	}

	name := fs.Arg(0)
	start, end, regionErr := blockDataRange(name)
	if offset < 0 {
		if regionErr != nil {
			return regionErr
		}
		if end <= start {
			return fmt.Errorf("%s: the share holds no block data to corrupt", name)
		}
		offset = start + rand.Int64N(end-start)
	}

	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], offset); err != nil {
		return fmt.Errorf("%s: byte %d: %w", name, offset, err)
	}
	b[0] ^= 1 << *bit
	if _, err := f.WriteAt(b[:], offset); err != nil {
		return fmt.Errorf("%s: byte %d: %w", name, offset, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if regionErr != nil {
		// A file that is no share we can read, damaged where asked.
		fmt.Fprintf(e.stdout, "%d.b%d\n", offset, *bit)
		return nil
	}
	fmt.Fprintf(e.stdout, "[%d..%d):  %d.b%d\n", start, end, offset, *bit)
	return nil
}

// blockDataRange is where a share file's block data lies, in bytes of the
// file: an immutable share's data section, an SDMF share's one block or an
// MDMF share's blocks with their salts.
func blockDataRange(name string) (start, end int64, err error) {
	s, err := openShareFile(name)
	if err != nil {
		return 0, 0, err
	}
	defer s.Close()
	base := s.c.DataOffset
	if s.c.Kind == storage.MutableKind {
		if s.shareType() == "unknown" {
			return 0, 0, fmt.Errorf("%s: a mutable container of no known share format", s.path)
		}
		h, err := s.mutableHeader()
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", s.path, err)
		}
		r := h.ShareDataRange()
		return clampData(s, base, r.Begin, r.End)
	}
	c, err := readCHKShare(s)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", s.path, err)
	}
	return clampData(s, base, c.layout.Data, c.layout.PlaintextHashTree)
}

// clampData turns a range of the share data into one of the file, checking
// it lies within the share data.
func clampData(s *shareFile, base int64, begin, end uint64) (int64, int64, error) {
	if end > uint64(s.c.DataLength) || begin > end {
		return 0, 0, fmt.Errorf("%s: block data: %w", s.path, errBeyondData)
	}
	return base + int64(begin), base + int64(end), nil
}
