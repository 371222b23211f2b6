package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/mutable"
	"github.com/lafs/lafs/storage"
)

const dumpShareHelp = `usage: lafs debug dump-share [options] SHAREFILE...

Print what a share file of a storage folder holds, laid out as Tahoe's
"tahoe debug dump-share" prints it: the kind of share, its leases, its
encoding parameters and hash tree roots, the sizes of its parts, and the
verify cap of its file when the file lies in its storage index's folder
(NODEDIR/storage/shares/<prefix>/<si>/<shnum>). It reads the share's
container and headers, not its blocks, and never writes.`

// runDebugDumpShare implements "lafs debug dump-share". Its output is Tahoe
// 1.20's dump_share's, line for line and space for space. Where Tahoe would
// stop with a traceback (a share whose headers are damaged), it prints what
// it has read and fails with what is wrong. It takes several files, which
// print as if each were given to it alone.
func runDebugDumpShare(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "lafs debug dump-share", dumpShareHelp)
	offsets := fs.Bool("offsets", false, "also print where each section of the share lies")
	leasesOnly := fs.Bool("leases-only", false, "print only the leases of an immutable share, not its contents")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("lafs debug dump-share: no SHAREFILE given\n\n%s", dumpShareHelp)
	}
	for _, name := range fs.Args() {
		if err := dumpShareFile(e.stdout, name, e.now(), *offsets, *leasesOnly); err != nil {
			return err
		}
	}
	return nil
}

// dumpShareFile prints one share file.
func dumpShareFile(w io.Writer, name string, now time.Time, offsets, leasesOnly bool) error {
	s, err := openShareFile(name)
	if err != nil {
		return err
	}
	defer s.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "share filename: %s\n", quoteName(s.path, true))
	if s.c.Kind == storage.MutableKind {
		err = dumpMutable(&b, s, now, offsets)
	} else {
		err = dumpImmutable(&b, s, now, offsets, leasesOnly)
	}
	if _, werr := io.WriteString(w, b.String()); werr != nil {
		return werr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	return nil
}

// dumpImmutable is Tahoe's dump_immutable_share.
func dumpImmutable(b *strings.Builder, s *shareFile, now time.Time, offsets, leasesOnly bool) error {
	if !leasesOnly {
		if err := dumpCHK(b, s, offsets); err != nil {
			return err
		}
	}
	b.WriteString("\n")
	if len(s.c.Leases) == 0 {
		b.WriteString(" No leases.\n")
	}
	for _, l := range s.c.Leases {
		fmt.Fprintf(b, " Lease #%d: owner=%d, expire in %s\n", l.Num, l.Owner, formatExpiration(l.Expiration, now))
	}
	b.WriteString("\n")
	return nil
}

// The URI extension's fields in the groups Tahoe shows them in.
var (
	uebNumbers = []string{"size", "num_segments", "segment_size", "needed_shares", "total_shares"}
	uebCodec   = []string{"codec_name", "codec_params", "tail_codec_params"}
	uebHashes  = []string{"plaintext_hash", "plaintext_root_hash", "crypttext_hash", "crypttext_root_hash", "share_root_hash", "UEB_hash"}
)

// dumpCHK is Tahoe's dump_immutable_chk_share.
func dumpCHK(b *strings.Builder, s *shareFile, offsets bool) error {
	c, err := readCHKShare(s)
	if err != nil {
		return err
	}
	l := c.layout
	fmt.Fprintf(b, "%20s: %d\n", "version", l.Version)
	show := func(k string) {
		if k == "UEB_hash" {
			h := c.uebHash()
			fmt.Fprintf(b, "%20s: %s\n", k, lafs.Base32(h[:]))
			return
		}
		v, ok := c.fields[k]
		if !ok {
			return
		}
		name := k
		if k == "size" {
			name = "file_size"
		}
		fmt.Fprintf(b, "%20s: %s\n", name, uebValue(c, k, v))
	}
	for i, group := range [][]string{uebNumbers, uebCodec, uebHashes} {
		if i > 0 {
			b.WriteString("\n")
		}
		for _, k := range group {
			show(k)
		}
	}
	var leftover []string
	for k := range c.fields {
		if !slices.Contains(uebNumbers, k) && !slices.Contains(uebCodec, k) && !slices.Contains(uebHashes, k) {
			leftover = append(leftover, k)
		}
	}
	if len(leftover) > 0 {
		sort.Strings(leftover)
		b.WriteString("\nLEFTOVER:\n")
		for _, k := range leftover {
			fmt.Fprintf(b, "%20s: %s\n", k, uebValue(c, k, c.fields[k]))
		}
	}

	if si, ok := storageIndexOf(s.path); ok {
		k, kok := c.uebNumber("needed_shares")
		n, nok := c.uebNumber("total_shares")
		size, sok := c.uebNumber("size")
		if kok && nok && sok {
			v := &cap.CHKVerifier{StorageIndex: si, UEBHash: c.uebHash(), K: int(k), N: int(n), Size: size}
			fmt.Fprintf(b, "%20s: %s\n", "verify-cap", v)
		}
	}

	fmt.Fprintf(b, "\n Size of data within the share:\n")
	fmt.Fprintf(b, "%20s: %d\n", "data", l.PlaintextHashTree-l.Data)
	fmt.Fprintf(b, "%20s: %d\n", "uri-extension", len(c.ueb))
	fmt.Fprintf(b, "%20s: %d\n", "validation", l.URIExtension-l.PlaintextHashTree)

	if offsets {
		base := uint64(s.c.DataOffset)
		b.WriteString("\n Section Offsets:\n")
		fmt.Fprintf(b, "%20s: %d\n", "share data", base)
		for _, sec := range []struct {
			name string
			off  uint64
		}{
			{"block data", l.Data}, {"plaintext_hash_tree", l.PlaintextHashTree},
			{"crypttext_hash_tree", l.CrypttextHashTree}, {"block_hashes", l.BlockHashes},
			{"share_hashes", l.ShareHashes}, {"uri_extension", l.URIExtension},
		} {
			fmt.Fprintf(b, "  %20s: %d   (0x%x)\n", sec.name, base+sec.off, base+sec.off)
		}
		fmt.Fprintf(b, "%20s: %d\n", "leases", s.c.LeaseOffset)
	}
	return nil
}

// uebValue shows a URI extension field as Tahoe's
// unpack_extension_readable does: hashes in base32, numbers as numbers,
// the rest as text.
func uebValue(c *chkShare, k string, v []byte) string {
	if strings.Contains(k, "hash") {
		return lafs.Base32(v)
	}
	if slices.Contains(uebNumbers, k) {
		if n, ok := c.uebNumber(k); ok {
			return strconv.FormatUint(n, 10)
		}
	}
	return string(v)
}

// dumpMutable is Tahoe's dump_mutable_share.
func dumpMutable(b *strings.Builder, s *shareFile, now time.Time, offsets bool) error {
	h := s.c.Mutable
	typ := s.shareType()
	b.WriteString("\nMutable slot found:\n")
	fmt.Fprintf(b, " share_type: %s\n", typ)
	fmt.Fprintf(b, " write_enabler: %s\n", lafs.Base32(h.WriteEnabler[:]))
	fmt.Fprintf(b, " WE for nodeid: %s\n", lafs.Base32(h.WriteEnablerNodeID[:]))
	fmt.Fprintf(b, " num_extra_leases: %d\n", s.c.NumExtraLeases)
	fmt.Fprintf(b, " container_size: %d\n", s.c.LeaseOffset-s.c.DataOffset)
	fmt.Fprintf(b, " data_length: %d\n", s.c.DataLength)
	if len(s.c.Leases) == 0 {
		b.WriteString("No leases.\n")
	}
	for _, l := range s.c.Leases {
		fmt.Fprintf(b, "\n Lease #%d:\n", l.Num)
		fmt.Fprintf(b, "  ownerid: %d\n", l.Owner)
		fmt.Fprintf(b, "  expires in %s\n", formatExpiration(l.Expiration, now))
		fmt.Fprintf(b, "  renew_secret: %s\n", presentSecret(l.RenewSecret, s.c.Hashed()))
		fmt.Fprintf(b, "  cancel_secret: %s\n", presentSecret(l.CancelSecret, s.c.Hashed()))
		fmt.Fprintf(b, "  secrets are for nodeid: %s\n", lafs.Base32(l.NodeID[:]))
	}
	b.WriteString("\n")
	if typ == "unknown" {
		return nil
	}

	mh, err := s.mutableHeader()
	if err != nil {
		return err
	}
	p, err := s.readMutableParts(mh)
	if err != nil {
		return err
	}
	sdmf := mh.Version == mutable.SDMFVersion
	fmt.Fprintf(b, " %s contents:\n", typ)
	fmt.Fprintf(b, "  seqnum: %d\n", mh.Seqnum)
	fmt.Fprintf(b, "  root_hash: %s\n", lafs.Base32(mh.RootHash[:]))
	if sdmf {
		fmt.Fprintf(b, "  IV: %s\n", lafs.Base32(mh.Salt[:]))
	}
	fmt.Fprintf(b, "  required_shares: %d\n", mh.K)
	fmt.Fprintf(b, "  total_shares: %d\n", mh.N)
	fmt.Fprintf(b, "  segsize: %d\n", mh.SegmentSize)
	fmt.Fprintf(b, "  datalen: %d\n", mh.DataLength)
	fmt.Fprintf(b, "  enc_privkey: %d bytes\n", len(p.encPrivKey))
	fmt.Fprintf(b, "  pubkey: %d bytes\n", len(p.pubkey))
	fmt.Fprintf(b, "  signature: %d bytes\n", len(p.signature))
	fmt.Fprintf(b, "  share_hash_chain: %s\n", chainIDs(p.chain, sdmf))
	fmt.Fprintf(b, "  block_hash_tree: %d nodes\n", p.blockHashes)
	if si, ok := storageIndexOf(s.path); ok {
		v := &cap.MutableVerifier{Format: mh.Format(), StorageIndex: si, Fingerprint: crypt.SSKPubkeyFingerprint(p.pubkey)}
		fmt.Fprintf(b, "  verify-cap: %s\n", v)
	}

	if offsets {
		dumpMutableOffsets(b, s, mh)
	}
	b.WriteString("\n")
	return nil
}

// chainIDs lists the share hash chain's node numbers, comma-separated: in
// Tahoe's SDMF dump sorted as text ("2,22,3,9"), in its MDMF dump as numbers.
func chainIDs(c mutable.HashChain, asText bool) string {
	ids := make([]int, 0, len(c))
	for i := range c {
		ids = append(ids, i)
	}
	sort.Ints(ids)
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(id)
	}
	if asText {
		sort.Strings(s)
	}
	return strings.Join(s, ",")
}

// dumpMutableOffsets is the --offsets table of a mutable share. Tahoe
// lays out its SDMF table with names right-aligned in 20 columns and its
// MDMF table with them left as they are, indented two more.
func dumpMutableOffsets(b *strings.Builder, s *shareFile, mh *mutable.Header) {
	o := mh.Offsets
	data := uint64(s.c.DataOffset)
	sdmf := mh.Version == mutable.SDMFVersion
	line := func(name string, v uint64, shift int) {
		if sdmf {
			fmt.Fprintf(b, "%s%20s: %d   (0x%x)\n", strings.Repeat(" ", shift), name, v, v)
		} else {
			fmt.Fprintf(b, "%s%.20s: %d   (0x%x)\n", strings.Repeat(" ", shift+2), name, v, v)
		}
	}
	type sec struct {
		name string
		off  uint64
	}
	var secs []sec
	if sdmf {
		secs = []sec{{"signature", o.Signature}, {"share_hash_chain", o.ShareHashChain},
			{"block_hash_tree", o.BlockHashTree}, {"block data", o.ShareData},
			{"enc_privkey", o.EncPrivKey}, {"end of share data", o.EOF}}
	} else {
		secs = []sec{{"enc_privkey", o.EncPrivKey}, {"share_hash_chain", o.ShareHashChain},
			{"signature", o.Signature}, {"pubkey", o.VerificationKey},
			{"end of pubkey", o.VerificationKeyEnd}, {"block data", o.ShareData},
			{"block_hash_tree", o.BlockHashTree}, {"end of share data", o.EOF}}
	}
	b.WriteString("\n Section Offsets:\n")
	line("first lease", storage.MutableHeaderSize, 0)
	line("share data", data, 0)
	line("seqnum", data+1, 2)
	line("root_hash", data+9, 2)
	for _, sc := range secs {
		line(sc.name, data+sc.off, 2)
	}
	line("extra leases", uint64(s.c.LeaseOffset)+4, 0)
}
