package main

// What local-grid does before it starts the nodes, and what it tells the
// user: the grid's layout on disk (which storage nodes exist, which to
// make), options applied to a grid that exists (by rewriting one line of
// the client's tahoe.cfg), why a node could not listen, and commands
// printed so that they run as printed.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/lafs/lafs/node"
)

// gridLayout is which nodes a local grid has and will have.
type gridLayout struct {
	dir                       string
	introExists, clientExists bool
	existing                  []int // indices of the storage nodes on disk
	storage                   []int // indices of the storage nodes to run
}

// toCreate counts the nodes that are not on disk yet.
func (l gridLayout) toCreate() int {
	n := len(l.storage) - len(l.existing)
	if !l.introExists {
		n++
	}
	if !l.clientExists {
		n++
	}
	return n
}

var storageDirName = regexp.MustCompile(`^storage-([0-9]{2,})$`)

// planGrid reads which nodes the grid in dir has, and says which storage
// nodes to run: n of them when explicit (the existing ones and new ones
// at the lowest free indices), else every existing one (n new ones for a
// new grid). Fewer than exist is refused, with how to remove nodes.
func planGrid(dir string, n int, explicit bool) (gridLayout, error) {
	l := gridLayout{dir: dir}
	isNode := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name, "tahoe.cfg"))
		return err == nil
	}
	l.introExists, l.clientExists = isNode(introducerName), isNode(clientName)
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return l, fmt.Errorf("grid directory: %w", err)
	}
	for _, de := range entries {
		m := storageDirName.FindStringSubmatch(de.Name())
		if m == nil || !isNode(de.Name()) {
			continue
		}
		i, err := strconv.Atoi(m[1])
		if err != nil || storageName(i) != de.Name() {
			continue // storage-007: not a name local-grid gives
		}
		l.existing = append(l.existing, i)
	}
	sort.Ints(l.existing)
	have := len(l.existing)
	switch {
	case explicit && n < have:
		return l, tooManyNodes(dir, l.existing, n)
	case !explicit && have > 0:
		n = have
	}
	l.storage = slices.Clone(l.existing)
	for i := 0; len(l.storage) < n; i++ {
		if !slices.Contains(l.existing, i) {
			l.storage = append(l.storage, i)
		}
	}
	sort.Ints(l.storage)
	return l, nil
}

// tooManyNodes says why local-grid will not run fewer storage nodes than
// the grid has, and how to remove some.
func tooManyNodes(dir string, existing []int, n int) error {
	remove := existing[n:]
	var b strings.Builder
	fmt.Fprintf(&b, "lafs local-grid: %s has %d storage nodes, more than --storage-nodes %d.\n", dir, len(existing), n)
	fmt.Fprintf(&b, "local-grid never deletes a node, since the shares it holds would go with it.\n")
	fmt.Fprintf(&b, "To run all %d, leave out --storage-nodes. To remove %d of them, stop the grid and delete their directories:\n  rm -r", len(existing), len(remove))
	for _, i := range remove {
		b.WriteString(" " + shellQuote(filepath.Join(dir, storageName(i))))
	}
	fmt.Fprintf(&b, "\nthen repair what only they held, with deep-check --repair on your aliases.")
	return usagef("%s", b.String())
}

// applyConfig sets keys of section in the node's tahoe.cfg to the given
// values with node.EditConfig, which changes only their lines and writes
// the file only if the node would accept the result. It says what it
// changed.
func (g *localGrid) applyConfig(nodeDir, section string, set map[string]string) error {
	if len(set) == 0 {
		return nil
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var changes []string
	changed, err := node.EditConfig(nodeDir, func(f *node.CfgFile) error {
		changes = changes[:0]
		for _, k := range keys {
			old, _, err := f.Get(section, k)
			if err != nil {
				return err
			}
			if strings.TrimSpace(old) == set[k] {
				continue
			}
			if err := f.Set(section, k, set[k]); err != nil {
				return err
			}
			changes = append(changes, fmt.Sprintf("%s = %s (was %q)", k, set[k], old))
		}
		return nil
	})
	path := filepath.Join(nodeDir, "tahoe.cfg")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if !changed {
		return nil
	}
	for _, c := range changes {
		g.printf("%s: set [%s] %s in %s", filepath.Base(nodeDir), section, c, path)
	}
	return nil
}

// portProblems says which ports the node in dir is configured to listen
// on are held by another program, naming the port, the node and the fix.
func portProblems(name, dir string) []string {
	cfg, err := node.ReadConfig(dir)
	if err != nil {
		return nil
	}
	file := cfg.File()
	nc := cfg.Node()
	var out []string
	if nc.WebPort != "" && nc.Web.IsTCP() && nc.Web.Port > 0 && portTaken(nc.Web) {
		fix := "stop that program, or set another web.port there"
		if name == clientName {
			fix = "stop that program, or run local-grid with --web-port PORT to choose another (0: any free port)"
		}
		out = append(out, fmt.Sprintf("port %d is taken by another program: %s cannot serve its web API there (web.port in %s); %s",
			nc.Web.Port, name, file, fix))
	}
	for _, ep := range nc.TubListeners {
		if ep.IsTCP() && ep.Port > 0 && portTaken(ep) {
			out = append(out, fmt.Sprintf("port %d is taken by another program: %s cannot listen there for the grid (tub.port in %s); stop that program, or set another port in tub.port and tub.location there",
				ep.Port, name, file))
		}
	}
	return out
}

// portTaken reports whether another program listens where ep says.
func portTaken(ep node.Endpoint) bool {
	network := "tcp"
	if ep.Type == "tcp6" {
		network = "tcp6"
	}
	ln, err := net.Listen(network, net.JoinHostPort(ep.Interface, strconv.Itoa(ep.Port)))
	if err == nil {
		ln.Close()
		return false
	}
	return errors.Is(err, syscall.EADDRINUSE)
}

// lafsCommand is how to type the running binary in a shell: "lafs" when
// that is what the shell finds on PATH, else its path, quoted.
func lafsCommand(exe string) string {
	if p, err := exec.LookPath("lafs"); err == nil {
		a, errA := os.Stat(p)
		b, errB := os.Stat(exe)
		if errA == nil && errB == nil && os.SameFile(a, b) {
			return "lafs"
		}
	}
	return shellQuote(exe)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
