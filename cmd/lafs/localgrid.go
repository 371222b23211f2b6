package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lafs/lafs/node"
)

const localGridHelp = `usage: lafs local-grid [options] [DIR]

Create (the first time) and run a whole grid on 127.0.0.1: an introducer, N
storage nodes (default 10) and a client node whose web API listens on PORT
(default 3456), each in its own node directory under DIR (default
./lafs-grid), each a "lafs run NODEDIR" process whose output goes to
NODEDIR/logs/lafs.log. Once it runs, local-grid prints the commands to use
it from another terminal, such as "lafs -d DIR/client put FILE".

On a grid that exists, --web-port rewrites the client's web.port and the
--shares options its [client] encoding in DIR/client/tahoe.cfg; without
them the grid runs as configured. --storage-nodes adds storage nodes; to
remove some, stop the grid and delete their directories (local-grid never
deletes a node: the shares it holds would go with it). Without
--storage-nodes every storage node of DIR runs.

With the --s3-* options, the storage nodes it creates keep their shares in
one bucket of an S3-compatible store, each under the prefix --s3-prefix +
its name + "/" (see docs/s3.md); nodes that exist keep their backend.

local-grid prints each node's pid once it serves. When a node's process
exits (a crash, kill -9, an error), the others keep running: local-grid
names the node, says how it ended (exit status or signal, or the port it
found taken) and shows its last log lines, then starts it again after 1s,
doubling the wait while it keeps dying within a minute of starting (up to
30s), and says when it is back. A node that fails 5 times in a row is
reported as unable to start and is still tried every 30s, so that it
rejoins once the cause (a taken port, a broken tahoe.cfg, a full disk) is
fixed. Only the introducer must start once before the others are started
(they are created with its address); if it cannot, local-grid stops.

Ctrl-C (SIGINT or SIGTERM) stops every node, also one waiting to be
restarted, and local-grid exits once they are all gone. The nodes also
stop when local-grid dies any other way (even by SIGKILL).`

// The names local-grid gives its nodes, which are also their directories
// under DIR.
const (
	introducerName = "introducer"
	clientName     = "client"
)

// storageName names the i-th storage node.
func storageName(i int) string { return fmt.Sprintf("storage-%02d", i) }

// runLocalGrid runs an introducer, storage nodes and a client as child
// processes (each a plain "lafs run NODEDIR"), each kept running by its
// own supervisor (supervisedNode.supervise) until ctx ends.
func runLocalGrid(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "local-grid", localGridHelp)
	nStorage := fs.Int("storage-nodes", 10, "how many storage nodes, `N`, the grid has (on a grid that exists, the default is as many as it has)")
	webPort := fs.Int("web-port", 3456, "the client's web API `PORT` on 127.0.0.1 (0: any free port)")
	k := fs.Int("shares-needed", 3, "shares needed to recover a file, `K`")
	happy := fs.Int("shares-happy", 7, "servers an upload must reach, `H`")
	total := fs.Int("shares-total", 10, "shares made of each file, `N`")
	var s3 localGridS3
	fs.StringVar(&s3.endpoint, "s3-endpoint", "", "keep new storage nodes' shares in an S3-compatible store at `URL`")
	fs.StringVar(&s3.bucket, "s3-bucket", "", "the S3 bucket (`NAME`); each node gets the prefix --s3-prefix + its name + \"/\"")
	fs.StringVar(&s3.region, "s3-region", "", "the bucket's `REGION` (default us-east-1)")
	fs.StringVar(&s3.prefix, "s3-prefix", "", "`PREFIX` before every node's own prefix in the bucket")
	fs.BoolVar(&s3.pathStyle, "s3-path-style", false, "name the bucket in the path (MinIO, Garage, Ceph, versitygw)")
	fs.StringVar(&s3.accessKey, "s3-access-key-id", "", "the store's access key `ID`")
	fs.StringVar(&s3.secretFile, "s3-secret-access-key-file", "", "the `FILE` holding the store's secret access key")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	s3Args, err := s3.createArgs()
	if err != nil {
		return err
	}
	dir := "lafs-grid"
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	} else if fs.NArg() > 1 {
		return usagef("lafs local-grid: one DIR at most\nRun 'lafs local-grid --help' for the options.")
	}
	if *nStorage < 1 {
		return usagef("lafs local-grid: --storage-nodes must be at least 1")
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("grid directory: %w", err)
	}
	layout, err := planGrid(dir, *nStorage, flagSet(fs, "storage-nodes"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("grid directory: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the lafs binary to run the nodes: %w", err)
	}
	g := &localGrid{exe: exe, stdout: e.stdout, policy: defaultRestartPolicy}
	if err := g.openParentPipe(); err != nil {
		return err
	}
	defer g.closeParentPipe()
	gctx, stopGrid := context.WithCancel(context.Background())
	defer g.wait()
	defer stopGrid()

	clientDir := filepath.Join(dir, clientName)
	webEndpoint := fmt.Sprintf("tcp:%d:interface=127.0.0.1", *webPort)
	shares := map[string]int{"shares.needed": *k, "shares.happy": *happy, "shares.total": *total}
	if layout.clientExists {
		// Options given for a grid that exists are applied to it.
		if flagSet(fs, "web-port") {
			if err := g.applyConfig(clientDir, "node", map[string]string{"web.port": webEndpoint}); err != nil {
				return err
			}
		}
		set := map[string]string{}
		for _, f := range []string{"shares-needed", "shares-happy", "shares-total"} {
			if flagSet(fs, f) {
				key := strings.Replace(f, "-", ".", 1)
				set[key] = strconv.Itoa(shares[key])
			}
		}
		if err := g.applyConfig(clientDir, "client", set); err != nil {
			return err
		}
		// Nodes added to the grid get the client's encoding.
		cfg, err := node.ReadConfig(clientDir)
		if err != nil {
			return err
		}
		cc := cfg.Client()
		*k, *happy, *total = cc.SharesNeeded, cc.SharesHappy, cc.SharesTotal
	}
	switch g.toCreate = layout.toCreate(); g.toCreate {
	case 0:
	case 1:
		g.printf("creating 1 node in %s", dir)
	default:
		g.printf("creating %d nodes in %s", g.toCreate, dir)
	}

	// The introducer first: the others are created with its NURL, which it
	// writes when it first runs.
	introDir := filepath.Join(dir, introducerName)
	if err := g.createIfMissing(e, introDir, "create-introducer", "--hostname", "127.0.0.1"); err != nil {
		return err
	}
	intro := g.node(introducerName, introDir, "introducer listening")
	intro.mustStart = true
	g.start(gctx, intro)
	select {
	case <-intro.readyc:
	case <-intro.failedc:
		return intro.failure
	case <-ctx.Done():
		g.printf("stopping the grid")
		return nil
	}
	nurlBytes, err := os.ReadFile(filepath.Join(introDir, "private", "introducer.nurl"))
	if err != nil {
		return fmt.Errorf("introducer NURL: %w", err)
	}
	nurls := strings.Fields(string(nurlBytes))
	if len(nurls) == 0 {
		return fmt.Errorf("introducer NURL: %s is empty", filepath.Join(introDir, "private", "introducer.nurl"))
	}
	introNURL := nurls[0]

	shareFlags := []string{"--shares-needed", strconv.Itoa(*k), "--shares-happy", strconv.Itoa(*happy), "--shares-total", strconv.Itoa(*total)}
	storage := make([]*supervisedNode, len(layout.storage))
	for i, idx := range layout.storage {
		name := storageName(idx)
		d := filepath.Join(dir, name)
		args := append([]string{"--webport", "none", "--hostname", "127.0.0.1", "--introducer", introNURL, "--nickname", name}, shareFlags...)
		if s3Args != nil {
			args = append(append(args, s3Args...), "--s3-prefix", s3.prefix+name+"/")
		}
		if err := g.createIfMissing(e, d, "create-node", args...); err != nil {
			return err
		}
		storage[i] = g.node(name, d, "storage server listening")
		g.start(gctx, storage[i])
	}
	if !g.firstTries(ctx, storage...) {
		g.printf("stopping the grid")
		return nil
	}
	cargs := append([]string{"--webport", webEndpoint, "--introducer", introNURL, "--nickname", clientName}, shareFlags...)
	if err := g.createIfMissing(e, clientDir, "create-client", cargs...); err != nil {
		return err
	}
	client := g.node(clientName, clientDir, "web API listening")
	client.backNote = func() string {
		if u := readNodeURL(clientDir); u != "" {
			return ", web API " + u
		}
		return ""
	}
	g.start(gctx, client)
	if !g.firstTries(ctx, client) {
		g.printf("stopping the grid")
		return nil
	}
	serving := 0
	var down []string
	for _, s := range storage {
		if _, up := s.status(); up {
			serving++
		} else {
			down = append(down, s.name)
		}
	}
	webURL := ""
	connected := 0
	if _, up := client.status(); up {
		webURL = readNodeURL(clientDir)
		connected = waitServers(ctx, webURL, serving, 30*time.Second)
		if ctx.Err() != nil {
			g.printf("stopping the grid")
			return nil
		}
	} else {
		down = append(down, clientName)
	}
	g.printf("local grid running in %s: introducer, %d storage nodes (%d connected to the client), client", dir, len(storage), connected)
	if len(down) > 0 {
		g.printf("not running yet: %s (see above; local-grid keeps trying)", strings.Join(down, ", "))
	}
	if webURL != "" {
		g.printf("web API: %s", webURL)
	}
	lafsCmd := lafsCommand(exe)
	g.printf("try:     %s -d %s put FILE\n         %s -d %s get CAP OUT", lafsCmd, shellQuote(clientDir), lafsCmd, shellQuote(clientDir))
	g.printf("Ctrl-C stops the grid.")
	<-ctx.Done()
	g.printf("stopping the grid")
	return nil
}

// readNodeURL returns the web API URL a node wrote in its directory, or "".
func readNodeURL(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "node.url"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// waitServers polls the client's welcome JSON until n servers are connected.
func waitServers(ctx context.Context, webURL string, n int, limit time.Duration) int {
	deadline := time.Now().Add(limit)
	have := 0
	for time.Now().Before(deadline) && ctx.Err() == nil {
		have = connectedServers(webURL)
		if have >= n {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return have
}

func connectedServers(webURL string) int {
	resp, err := http.Get(webURL + "?t=json")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var w struct {
		Servers []struct {
			Status string `json:"connection_status"`
		} `json:"servers"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&w); err != nil {
		return 0
	}
	n := 0
	for _, s := range w.Servers {
		if strings.HasPrefix(strings.ToLower(s.Status), "connected") {
			n++
		}
	}
	return n
}

// localGrid is the set of supervised node processes of one local grid.
type localGrid struct {
	exe    string
	policy restartPolicy

	outMu  sync.Mutex // one line at a time, from every node's supervisor
	stdout io.Writer

	wg sync.WaitGroup // one for each supervisor running

	toCreate, created int // nodes this run makes, and has made

	// parentR and parentW are the pipe through which the nodes learn
	// that local-grid has gone (see exitWithParent): each node holds the
	// read end, only local-grid the write end.
	parentR, parentW *os.File
}

// printf prints one line of local-grid's own output.
func (g *localGrid) printf(format string, a ...any) {
	g.outMu.Lock()
	defer g.outMu.Unlock()
	fmt.Fprintf(g.stdout, format+"\n", a...)
}

// say prints one event line about a node, with the time.
func (g *localGrid) say(format string, a ...any) {
	g.printf("%s %s", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

// createIfMissing makes the node in dir with "lafs VERB ARGS dir" unless
// it exists, and says so.
func (g *localGrid) createIfMissing(e *env, dir, verb string, args ...string) error {
	if _, err := os.Stat(filepath.Join(dir, "tahoe.cfg")); err == nil {
		return nil
	}
	out, errOut := &strings.Builder{}, &strings.Builder{}
	sub := &env{stdin: e.stdin, stdout: out, stderr: errOut, getenv: e.getenv}
	if code := run(context.Background(), sub, append(append([]string{verb}, args...), dir)); code != 0 {
		return fmt.Errorf("%s %s: %s", verb, dir, strings.TrimSpace(errOut.String()))
	}
	g.created++
	g.say("created %s (%d of %d)", filepath.Base(dir), g.created, g.toCreate)
	return nil
}

// node returns the (not yet started) node that runs "lafs run dir". ready
// is the text of the node's log that says it serves.
func (g *localGrid) node(name, dir, ready string) *supervisedNode {
	n := newSupervisedNode(name, dir, g.exe, ready, g.policy, g.say)
	if g.parentR != nil {
		n.extraFiles = []*os.File{g.parentR}
		n.env = []string{parentFDEnv + "=3"}
	}
	n.diagnose = func() []string { return portProblems(name, dir) }
	return n
}

// start keeps n running under its supervisor until ctx ends.
func (g *localGrid) start(ctx context.Context, n *supervisedNode) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		n.supervise(ctx)
	}()
}

// firstTries waits until each node's first attempt has an outcome (it
// serves, it died, or it is slow to start), and reports false if ctx ended
// first.
func (g *localGrid) firstTries(ctx context.Context, nodes ...*supervisedNode) bool {
	for _, n := range nodes {
		select {
		case <-n.triedc:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// wait returns once every supervisor has returned, and so every node's
// process is gone.
func (g *localGrid) wait() { g.wg.Wait() }

// localGridS3 are local-grid's S3 options: the storage nodes it creates
// keep their shares in one bucket, each under a prefix of its own.
type localGridS3 struct {
	endpoint, bucket, region, prefix, accessKey, secretFile string
	pathStyle                                               bool
}

// createArgs returns the create-node options for the bucket (without
// --s3-prefix), or nil when no S3 option is given.
func (o localGridS3) createArgs() ([]string, error) {
	if o == (localGridS3{}) {
		return nil, nil
	}
	if o.endpoint == "" || o.bucket == "" || o.accessKey == "" || o.secretFile == "" {
		return nil, usagef("lafs local-grid: an S3 grid needs --s3-endpoint, --s3-bucket, --s3-access-key-id and --s3-secret-access-key-file")
	}
	if o.secretFile == "-" {
		return nil, usagef("lafs local-grid: --s3-secret-access-key-file must name a file (every node reads it)")
	}
	args := []string{"--storage-backend", "s3", "--s3-endpoint", o.endpoint, "--s3-bucket", o.bucket,
		"--s3-access-key-id", o.accessKey, "--s3-secret-access-key-file", o.secretFile}
	if o.region != "" {
		args = append(args, "--s3-region", o.region)
	}
	if o.pathStyle {
		args = append(args, "--s3-path-style")
	}
	return args, nil
}
