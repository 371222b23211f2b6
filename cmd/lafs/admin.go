package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/node"
)

func adminCommands() []command {
	return []command{
		{"print-server-entry", "print the private/servers.yaml entry for a storage node", runPrintServerEntry},
		{"generate-keypair", "make an Ed25519 key pair and print it", runGenerateKeypair},
		{"derive-pubkey", "print the public key of an Ed25519 private key", runDerivePubkey},
		{"migrate-storage", "move a stopped storage node's shares between disk and S3", runMigrateStorage},
		{"add-grid-manager-cert", "add a grid manager's certificate to a storage node (not implemented yet)",
			notImplemented("admin add-grid-manager-cert", "adds a grid manager's certificate to a storage server's configuration")},
		{"migrate-crawler", "convert Tahoe's pickled crawler state to JSON (not implemented yet)",
			notImplemented("admin migrate-crawler", "rewrites the storage crawlers' pickled state files as JSON")},
	}
}

func runAdmin(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "lafs admin", adminCommands(), args)
}

const printServerEntryHelp = `usage: lafs admin print-server-entry [NODEDIR]

Print the entry of private/servers.yaml that lets a client (lafs or Tahoe
1.20) use the storage node in NODEDIR (default: the global -d directory,
else ~/.tahoe) without an introducer.`

// runPrintServerEntry prints a servers.yaml entry for the storage node in
// DIR, so that clients (lafs or Tahoe 1.20) can use it without an introducer.
func runPrintServerEntry(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "admin print-server-entry", printServerEntryHelp)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usagef("%s", printServerEntryHelp)
	}
	dir := defaultNodeDir(e)
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	entry, err := node.ServerEntry(abs)
	if err != nil {
		return err
	}
	fmt.Fprint(e.stdout, entry)
	return nil
}

const generateKeypairHelp = `usage: lafs admin generate-keypair

Make a new Ed25519 key pair and print it as two lines, in Tahoe's form:
"private: priv-v0-..." and "public: pub-v0-...". Keep the private key
secret.`

// runGenerateKeypair is Tahoe's "tahoe admin generate-keypair".
func runGenerateKeypair(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "admin generate-keypair", generateKeypairHelp)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("lafs admin generate-keypair: no arguments expected")
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("making a key pair: %w", err)
	}
	printKeypair(e.stdout, priv)
	return nil
}

const derivePubkeyHelp = `usage: lafs admin derive-pubkey PRIVKEY

Print the public key of the Ed25519 private key PRIVKEY ("priv-v0-...",
as generate-keypair makes it), after the private key, as two lines:
"private: priv-v0-..." and "public: pub-v0-...". PRIVKEY "-" reads the
key from standard input, which keeps it out of the process list.`

// runDerivePubkey is Tahoe's "tahoe admin derive-pubkey PRIVKEY".
func runDerivePubkey(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "admin derive-pubkey", derivePubkeyHelp)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("%s", derivePubkeyHelp)
	}
	s := fs.Arg(0)
	if s == "-" {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading the private key from stdin: %w", err)
		}
		s = line
	}
	priv, err := crypt.ParseEd25519PrivateKey(s)
	if err != nil {
		what := "not a private key"
		if strings.HasPrefix(strings.TrimSpace(s), "pub-v0-") {
			what = "a public key, not a private one"
		}
		return failf("lafs admin derive-pubkey: %s: %v", what, err)
	}
	printKeypair(e.stdout, priv)
	return nil
}

// printKeypair prints a key pair as Tahoe's admin verbs do.
func printKeypair(w io.Writer, priv ed25519.PrivateKey) {
	fmt.Fprintf(w, "private: %s\n", crypt.FormatEd25519PrivateKey(priv))
	fmt.Fprintf(w, "public: %s\n", crypt.FormatEd25519PublicKey(priv.Public().(ed25519.PublicKey)))
}
