package lafs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lafs/lafs/internal/testutil"
)

// TestHeavyReadmeProgram builds the program the README shows, in a module
// of its own outside this one (with the replace line the README
// describes), and runs it.
func TestHeavyReadmeProgram(t *testing.T) {
	testutil.Heavy(t)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "### Using lafs from your own program")
	if !ok {
		t.Fatal("the README has no section on using lafs from a program")
	}
	_, code, ok := strings.Cut(after, "```go\n")
	code, _, ok2 := strings.Cut(code, "```")
	if !ok || !ok2 {
		t.Fatal("no Go program in that section")
	}
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module example.com/hello\n\ngo 1.26\n\nrequire github.com/lafs/lafs v0.0.0\n\nreplace github.com/lafs/lafs => " + here + "\n"
	sum, err := os.ReadFile("go.sum")
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"go.mod": []byte(gomod), "go.sum": sum, "main.go": []byte(code)} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("mod", "tidy")
	out := run("run", ".")
	if !strings.Contains(out, "10 of 10 shares placed, happiness 10") || !strings.Contains(out, "read back the same bytes: true") {
		t.Errorf("the README's program printed:\n%s", out)
	}
}
