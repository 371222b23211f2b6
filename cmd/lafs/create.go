package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lafs/lafs/node"
)

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func runCreateNode(ctx context.Context, e *env, args []string) error {
	return create(e, "create-node", node.KindNode, args)
}

func runCreateClient(ctx context.Context, e *env, args []string) error {
	return create(e, "create-client", node.KindClient, args)
}

func runCreateIntroducer(ctx context.Context, e *env, args []string) error {
	return create(e, "create-introducer", node.KindIntroducer, args)
}

// createHelp is the help of create-node, create-client and
// create-introducer.
var createHelp = map[node.Kind]string{
	node.KindNode: `usage: lafs create-node [options] [NODEDIR]

Create a node in NODEDIR (default: the global -d directory, else ~/.tahoe):
a client of the grid that also stores shares for it (unless --no-storage).
Start it with "lafs run NODEDIR".

With --storage-backend=s3 the node keeps its shares in a bucket of an
S3-compatible store (AWS S3, Ceph RGW, MinIO, Garage...): give
--s3-endpoint, --s3-bucket, --s3-access-key-id and
--s3-secret-access-key-file. The secret key is read from a file, or from
standard input with "-", never from the command line, where other users
could see it in the process list. The credentials go to NODEDIR/private/
(mode 0600), never to tahoe.cfg. The store is not contacted now: a wrong
setting shows when the node starts. Keep a copy of NODEDIR/private/: with
it, the node comes back on another machine with all its shares.`,
	node.KindClient: `usage: lafs create-client [options] [NODEDIR]

Create a client node in NODEDIR (default: the global -d directory, else
~/.tahoe): it uploads and downloads through the grid and stores nothing.
Start it with "lafs run NODEDIR".`,
	node.KindIntroducer: `usage: lafs create-introducer [options] [NODEDIR]

Create an introducer node in NODEDIR (default: the global -d directory,
else ~/.tahoe): the node through which storage servers and clients find
each other. Start it with "lafs run NODEDIR"; its address is then in
NODEDIR/private/introducer.nurl.`,
}

// create implements Tahoe's create-node, create-client and
// create-introducer, with their flags.
func create(e *env, name string, kind node.Kind, args []string) error {
	fs := newFlagSet(e, name, createHelp[kind])
	var o node.CreateOptions
	o.Kind = kind
	var introducers multiFlag
	var secretFile string
	basedir := fs.String("basedir", "", "the node directory (instead of the `NODEDIR` argument)")
	fs.StringVar(basedir, "C", "", "short for --basedir")
	fs.StringVar(&o.Nickname, "nickname", "", "the node's `NAME`")
	fs.StringVar(&o.Nickname, "n", "", "short for --nickname")
	if kind != node.KindIntroducer {
		fs.Var(&introducers, "introducer", "the introducer's `ADDRESS` (NURL or fURL); may be repeated")
		fs.Var(&introducers, "i", "short for --introducer")
		fs.IntVar(&o.SharesNeeded, "shares-needed", 0, "shares needed to recover a file (`K`, default 3)")
		fs.IntVar(&o.SharesHappy, "shares-happy", 0, "distinct servers an upload must reach (`H`, default 7)")
		fs.IntVar(&o.SharesTotal, "shares-total", 0, "shares made of each file (`N`, default 10)")
		fs.StringVar(&o.WebPort, "webport", "", "web API `ENDPOINT`, or \"none\" (default tcp:3456:interface=127.0.0.1)")
		fs.StringVar(&o.WebPort, "p", "", "short for --webport")
	}
	fs.BoolVar(&o.HideIP, "hide-ip", false, "never reveal the node's IP address: reach others through Tor only (reveal-IP-address = false, [connections] tcp = tor)")
	if kind != node.KindClient {
		fs.StringVar(&o.Listen, "listen", "", "where to listen: \"tcp\" (default), \"tor\" (an onion service, made now through Tor), \"i2p\" (an I2P destination, made now through I2P's SAM bridge), several joined by commas, or \"none\"")
		fs.StringVar(&o.TorControlPort, "tor-control-port", "", "Tor's control port `ENDPOINT` for --listen=tor (default: Tor's usual ones), e.g. tcp:127.0.0.1:9051")
		fs.BoolVar(&o.TorLaunch, "tor-launch", false, "with --listen=tor: give the node a Tor of its own, started with the node (state in NODEDIR/private/tor-statedir), instead of a running Tor's control port")
		fs.StringVar(&o.TorExecutable, "tor-executable", "", "the tor `PROGRAM` that --tor-launch starts (default: tor on $PATH)")
		fs.StringVar(&o.I2PSAMPort, "i2p-sam-port", "", "I2P's SAM bridge `ENDPOINT` for --listen=i2p (default tcp:127.0.0.1:7656)")
		fs.BoolVar(&o.I2PLaunch, "i2p-launch", false, "start an I2P router of the node's own (not supported, nor by Tahoe)")
		fs.StringVar(&o.I2PExecutable, "i2p-executable", "", "the I2P router `PROGRAM` for --i2p-launch (not supported)")
		fs.StringVar(&o.Hostname, "hostname", "", "this host's `NAME` or address, for a free TCP port chosen now")
		fs.StringVar(&o.Location, "location", "", "tub.location: connection `HINTS` to announce")
		fs.StringVar(&o.Port, "port", "", "tub.port: `ENDPOINT` to listen on, e.g. tcp:3457:interface=127.0.0.1")
	}
	if kind == node.KindNode {
		fs.BoolVar(&o.NoStorage, "no-storage", false, "do not offer storage")
		fs.StringVar(&o.StorageDir, "storage-dir", "", "where to keep shares (`DIR`, default NODEDIR/storage)")
		fs.BoolVar(&o.Helper, "helper", false, "run an upload helper")
		fs.StringVar(&o.StorageBackend, "storage-backend", "", "where to keep shares: \"disk\" (default) or \"s3\" (a bucket)")
		fs.StringVar(&o.S3.Endpoint, "s3-endpoint", "", "the S3 store's `URL`, e.g. https://s3.example.com")
		fs.StringVar(&o.S3.Bucket, "s3-bucket", "", "the bucket (`NAME`) to keep shares in")
		fs.StringVar(&o.S3.Region, "s3-region", "", "the bucket's `REGION` (default us-east-1)")
		fs.StringVar(&o.S3.Prefix, "s3-prefix", "", "`PREFIX` put before every key, so that nodes can share a bucket")
		fs.BoolVar(&o.S3.PathStyle, "s3-path-style", false, "name the bucket in the path, not the host name (MinIO, Garage, Ceph)")
		fs.StringVar(&o.S3AccessKeyID, "s3-access-key-id", "", "the store's access key `ID`")
		fs.StringVar(&secretFile, "s3-secret-access-key-file", "", "read the store's secret access key from `FILE` (\"-\": standard input)")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o.Introducers = introducers
	if secretFile != "" {
		secret, err := readSecretFile(e, secretFile)
		if err != nil {
			return failf("lafs %s: --s3-secret-access-key-file: %v", name, err)
		}
		o.S3SecretAccessKey = secret
	}
	dir := *basedir
	switch {
	case fs.NArg() == 1 && dir == "":
		dir = fs.Arg(0)
	case fs.NArg() > 1 || (fs.NArg() == 1 && dir != ""):
		return usagef("lafs %s: one node directory at most", name)
	case dir == "":
		dir = defaultNodeDir(e)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := node.Create(abs, o); err != nil {
		return err
	}
	what := map[node.Kind]string{node.KindNode: "Node", node.KindClient: "Node", node.KindIntroducer: "Introducer"}[kind]
	fmt.Fprintf(e.stdout, "%s created in '%s'\n", what, abs)
	if kind != node.KindIntroducer && len(introducers) == 0 {
		fmt.Fprintln(e.stdout, " Please add introducers to private/introducers.yaml or storage servers to private/servers.yaml before starting")
	}
	if strings.EqualFold(o.StorageBackend, node.BackendS3) {
		fmt.Fprintf(e.stdout, " Its shares go to bucket %s at %s, which was not contacted: the node checks it when it starts\n", o.S3.Bucket, o.S3.Endpoint)
	}
	fmt.Fprintf(e.stdout, " To start it, run 'lafs run %s'\n", abs)
	return nil
}

// readSecretFile reads a secret from the file at path, or from standard
// input for "-": its first line, without surrounding white space. Errors
// never hold what was read.
func readSecretFile(e *env, path string) (string, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(e.stdin, 64<<10))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return "", err
	}
	line, rest, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSpace(line)
	if line == "" || strings.TrimSpace(rest) != "" {
		return "", errors.New("want the secret alone, on one line")
	}
	return line, nil
}

// defaultNodeDir is Tahoe's default node directory, ~/.tahoe.
func defaultNodeDir(e *env) string {
	if e.nodeDir != "" {
		return e.nodeDir
	}
	return filepath.Join(e.home(), ".tahoe")
}
