package lafs_test

import (
	"bufio"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/lafs/lafs"

// allowedImports reads the list of allowed import edges from
// docs/ARCHITECTURE.md: the indented lines "pkg: dep dep ..." after the
// heading "## Which way imports run", up to the next heading.
func allowedImports(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open("docs/ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	allowed := map[string][]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## Which way imports run"
			continue
		}
		if !in || !strings.HasPrefix(line, "    ") {
			continue
		}
		pkg, deps, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || strings.Contains(pkg, " ") {
			continue
		}
		allowed[pkg] = strings.Fields(deps)
	}
	if len(allowed) == 0 {
		t.Fatal(`docs/ARCHITECTURE.md lists no import edges under "## Which way imports run"`)
	}
	return allowed
}

// moduleImports returns, for every package of the module outside
// internal/, the module packages its non-test files import (names
// relative to the module, "lafs" for the root).
func moduleImports(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "internal") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		if pkg == "." {
			pkg = "lafs"
		}
		if _, ok := out[pkg]; !ok {
			out[pkg] = nil
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			switch {
			case p == module:
				p = "lafs"
			case strings.HasPrefix(p, module+"/"):
				p = strings.TrimPrefix(p, module+"/")
			default:
				continue
			}
			if !slices.Contains(out[pkg], p) {
				out[pkg] = append(out[pkg], p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLayers fails on any import between the module's packages that
// docs/ARCHITECTURE.md does not allow, and on any package it does not
// list, so that the layering is written down and kept.
func TestLayers(t *testing.T) {
	allowed := allowedImports(t)
	for pkg, deps := range moduleImports(t) {
		ok, listed := allowed[pkg]
		if !listed {
			t.Errorf("package %s is not listed in docs/ARCHITECTURE.md's import edges", pkg)
			continue
		}
		for _, d := range deps {
			if !slices.Contains(ok, d) {
				t.Errorf("%s imports %s, which docs/ARCHITECTURE.md does not allow", pkg, d)
			}
		}
	}
}
