package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lafs/lafs/node"
)

// "lafs config" reads and edits a node's tahoe.cfg, so that nobody has to
// edit it by hand: node.CfgFile changes the one line and keeps the rest of
// the file as written, and node.EditConfig writes nothing that the node
// would refuse to start with.

const configListHelp = `usage: lafs [-d NODEDIR] config list [--all]

List the keys that NODEDIR/tahoe.cfg sets, one per line as SECTION.KEY =
VALUE, with the values the node reads. With --all, list every key the node
knows instead, with its value (or default) and what it does.`

const configGetHelp = `usage: lafs [-d NODEDIR] config get SECTION.KEY

Print the value of a key of NODEDIR/tahoe.cfg, such as node.nickname or
client.shares.needed. A key that is not set prints nothing and exits 1.`

const configSetHelp = `usage: lafs [-d NODEDIR] config set SECTION.KEY VALUE

Set a key of NODEDIR/tahoe.cfg, changing only its line (a new key goes at
the end of its section), after checking that the node would accept the
result; otherwise nothing is written. A VALUE with spaces is one argument
(quote it); one that begins with '-' goes after '--'. The node reads
tahoe.cfg when it starts: restart it for a change to take effect.`

const configUnsetHelp = `usage: lafs [-d NODEDIR] config unset SECTION.KEY

Remove a key from NODEDIR/tahoe.cfg, so that the node uses its default,
after checking that the node would accept the result.`

func configCommands() []command {
	return []command{
		{"list", "list the keys tahoe.cfg sets (--all: every known key)", runConfigList},
		{"get", "print the value of a key", runConfigGet},
		{"set", "set a key", runConfigSet},
		{"unset", "remove a key", runConfigUnset},
	}
}

// runConfig is "lafs config VERB".
func runConfig(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "lafs config", configCommands(), args)
}

// configFlags parses a config verb's command line: -d/--node-directory
// besides the global one, and n positional arguments.
func configFlags(e *env, verb, help string, args []string, n int, more func(*flag.FlagSet)) (dir string, pos []string, err error) {
	flags := newFlagSet(e, "config "+verb, help)
	flags.StringVar(&dir, "node-directory", defaultNodeDir(e), "the node's directory")
	flags.StringVar(&dir, "d", defaultNodeDir(e), "short for --node-directory")
	if more != nil {
		more(flags)
	}
	if err := parseFlags(flags, args); err != nil {
		return "", nil, err
	}
	if flags.NArg() != n {
		first, _, _ := strings.Cut(help, "\n")
		return "", nil, usagef("%s", first)
	}
	if _, err := os.Stat(filepath.Join(dir, "tahoe.cfg")); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil, fmt.Errorf("%s is not a node directory (it has no tahoe.cfg); name one with -d NODEDIR", dir)
		}
		return "", nil, err
	}
	return dir, flags.Args(), nil
}

// readCfg reads NODEDIR/tahoe.cfg for reading keys, and the node's kind.
func readCfg(dir string) (*node.CfgFile, node.Kind, error) {
	kind, err := node.IdentifyKind(dir)
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, "tahoe.cfg")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	f, err := node.ParseCfgFile(path, data)
	if err != nil {
		return nil, "", err
	}
	return f, kind, nil
}

// configKey splits and checks a SECTION.KEY argument. A key the node does
// not know is refused (naming the nearest one it does), unless present
// tells that the file has it: then get shows it and unset removes it.
func configKey(kind node.Kind, name string, present func(section, key string) bool) (section, key string, err error) {
	section, key, err = node.SplitConfigName(name)
	if err != nil {
		return "", "", err
	}
	if err := node.CheckConfigKey(kind, section, key); err != nil {
		if present != nil && present(section, key) {
			return section, key, nil
		}
		return "", "", err
	}
	return section, key, nil
}

func runConfigList(ctx context.Context, e *env, args []string) error {
	var all bool
	dir, _, err := configFlags(e, "list", configListHelp, args, 0, func(flags *flag.FlagSet) {
		flags.BoolVar(&all, "all", false, "list every known key, with its value or default and a description")
	})
	if err != nil {
		return err
	}
	f, kind, err := readCfg(dir)
	if err != nil {
		return err
	}
	entries, err := f.Entries()
	if err != nil {
		return err
	}
	if all {
		printAllKeys(e.stdout, kind, entries)
	} else {
		for _, en := range entries {
			fmt.Fprintf(e.stdout, "%s.%s = %s\n", en.Section, en.Key, en.Value)
		}
	}
	if _, err := node.ParseConfigKind(filepath.Join(dir, "tahoe.cfg"), f.Bytes(), kind); err != nil {
		fmt.Fprintf(e.stderr, "lafs: warning: the node would not start with this tahoe.cfg: %v\n", err)
	}
	return nil
}

// printAllKeys lists every known key of a node of the given kind with its
// value, or its default, and its description; then the keys set in
// sections of names the user chooses, and the forms of those sections.
func printAllKeys(w io.Writer, kind node.Kind, entries []node.CfgEntry) {
	set := map[string]string{}
	for _, en := range entries {
		set[en.Section+"."+en.Key] = en.Value
	}
	type row struct{ left, right string }
	var rows []row
	known := map[string]bool{}
	for _, k := range node.KnownConfigKeys(kind) {
		name := k.Section + "." + k.Key
		known[name] = true
		if v, ok := set[name]; ok {
			rows = append(rows, row{name + " = " + v, k.Description})
			continue
		}
		left, note := name+" =", "(not set)"
		if k.Default != "" {
			left, note = name+" = "+k.Default, "(default)"
		}
		rows = append(rows, row{left, note + " " + k.Description})
	}
	for _, en := range entries {
		if name := en.Section + "." + en.Key; !known[name] {
			rows = append(rows, row{name + " = " + en.Value, ""})
			known[name] = true
		}
	}
	if kind != node.KindIntroducer {
		for _, p := range node.ConfigPatterns {
			rows = append(rows, row{p.Section + "." + p.Key + " = ...", p.Description})
		}
	}
	col := 0
	for _, r := range rows {
		if n := utf8.RuneCountInString(r.left); n > col && n <= 40 {
			col = n
		}
	}
	for _, r := range rows {
		if r.right == "" {
			fmt.Fprintln(w, r.left)
			continue
		}
		pad := max(col-utf8.RuneCountInString(r.left), 0) + 2
		fmt.Fprintf(w, "%s%s# %s\n", r.left, strings.Repeat(" ", pad), r.right)
	}
}

func runConfigGet(ctx context.Context, e *env, args []string) error {
	dir, pos, err := configFlags(e, "get", configGetHelp, args, 1, nil)
	if err != nil {
		return err
	}
	f, kind, err := readCfg(dir)
	if err != nil {
		return err
	}
	present := func(section, key string) bool { _, ok, _ := f.Get(section, key); return ok }
	section, key, err := configKey(kind, pos[0], present)
	if err != nil {
		return err
	}
	v, ok, err := f.Get(section, key)
	if err != nil {
		return err
	}
	if !ok {
		msg := fmt.Sprintf("%s.%s is not set", section, key)
		for _, k := range node.KnownConfigKeys(kind) {
			if k.Section == section && k.Key == key && k.Default != "" {
				msg += fmt.Sprintf(" (the default is %s)", k.Default)
			}
		}
		return &exitError{code: 1, msg: msg}
	}
	fmt.Fprintln(e.stdout, v)
	return nil
}

func runConfigSet(ctx context.Context, e *env, args []string) error {
	dir, pos, err := configFlags(e, "set", configSetHelp, args, 2, nil)
	if err != nil {
		return err
	}
	kind, err := node.IdentifyKind(dir)
	if err != nil {
		return err
	}
	section, key, err := configKey(kind, pos[0], nil)
	if err != nil {
		return err
	}
	changed, err := node.EditConfig(dir, func(f *node.CfgFile) error {
		if err := f.Set(section, key, pos[1]); err != nil {
			return fmt.Errorf("cannot set %s.%s: %w", section, key, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if changed {
		restartNote(ctx, e, dir)
	}
	return nil
}

func runConfigUnset(ctx context.Context, e *env, args []string) error {
	dir, pos, err := configFlags(e, "unset", configUnsetHelp, args, 1, nil)
	if err != nil {
		return err
	}
	f, kind, err := readCfg(dir)
	if err != nil {
		return err
	}
	present := func(section, key string) bool { _, ok, _ := f.Get(section, key); return ok }
	section, key, err := configKey(kind, pos[0], present)
	if err != nil {
		return err
	}
	var was bool
	changed, err := node.EditConfig(dir, func(f *node.CfgFile) error {
		var err error
		if was, err = f.Unset(section, key); err != nil {
			return fmt.Errorf("cannot unset %s.%s: %w", section, key, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !was {
		fmt.Fprintf(e.stderr, "%s.%s was not set\n", section, key)
	} else if after, _, err := readCfg(dir); err == nil {
		if v, ok, _ := after.Get(section, key); ok {
			fmt.Fprintf(e.stderr, "%s.%s still reads %q, from [DEFAULT]\n", section, key, v)
		}
	}
	if changed {
		restartNote(ctx, e, dir)
	}
	return nil
}

// restartNote tells the user to restart the node in dir if it is running
// (its web API answers at NODEDIR/node.url): the node reads tahoe.cfg only
// when it starts.
func restartNote(ctx context.Context, e *env, dir string) {
	if nodeAnswering(ctx, dir) {
		fmt.Fprintf(e.stdout, "The node in %s is running: restart the node for this to take effect.\n", dir)
	}
}

// nodeAnswering reports whether the web API named in NODEDIR/node.url
// answers within two seconds.
func nodeAnswering(ctx context.Context, dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, node.NodeURLFile))
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSpace(string(b)), nil)
	if err != nil {
		return false
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}
