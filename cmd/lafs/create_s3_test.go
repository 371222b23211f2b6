package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lafs/lafs/node"
)

const cliS3Secret = "cli/Secret+Key/ShouldNeverShow0123456789"

// s3CreateArgs is a create-node command line for an S3 node in dir, its
// secret read from secretArg.
func s3CreateArgs(dir, secretArg string, extra ...string) []string {
	args := []string{"create-node", "--webport", "none", "--hostname", "127.0.0.1",
		"--storage-backend=s3", "--s3-endpoint", "http://127.0.0.1:9", "--s3-bucket", "lafs-shares",
		"--s3-prefix", "n1/", "--s3-path-style", "--s3-access-key-id", "AKIDCLI",
		"--s3-secret-access-key-file", secretArg}
	return append(append(args, extra...), dir)
}

// TestCreateS3Flags: create-node's S3 flags, the secret read from a file
// and from standard input, and what it writes.
func TestCreateS3Flags(t *testing.T) {
	base := t.TempDir()
	secretFile := filepath.Join(base, "secret")
	if err := os.WriteFile(secretFile, []byte(cliS3Secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, arg string
		stdin     []byte
	}{
		{"file", secretFile, nil},
		{"stdin", "-", []byte("  " + cliS3Secret + "\r\n")},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "node")
			out, errOut, code := runCmd(t, c.stdin, s3CreateArgs(dir, c.arg, "--s3-region", "eu-west-3")...)
			if code != 0 {
				t.Fatalf("create-node: exit %d: %s", code, errOut)
			}
			if !strings.Contains(out, "bucket lafs-shares at http://127.0.0.1:9, which was not contacted") {
				t.Errorf("stdout does not say the store was not contacted:\n%s", out)
			}
			cfgText, err := os.ReadFile(filepath.Join(dir, "tahoe.cfg"))
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range []string{"backend = s3", "s3.endpoint = http://127.0.0.1:9", "s3.region = eu-west-3",
				"s3.bucket = lafs-shares", "s3.prefix = n1/", "s3.path_style = true"} {
				if !strings.Contains(string(cfgText), "\n"+line+"\n") {
					t.Errorf("tahoe.cfg lacks %q", line)
				}
			}
			for _, s := range []string{out, errOut, string(cfgText)} {
				if strings.Contains(s, cliS3Secret) {
					t.Errorf("the secret shows: %q", s)
				}
			}
			for _, f := range []string{node.S3AccessKeyFile, node.S3SecretKeyFile, node.StorageSealKeyFile} {
				st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f)))
				if err != nil || st.Mode().Perm() != 0o600 {
					t.Errorf("%s: %v, %v", f, st, err)
				}
			}
			access, secret, err := node.LoadS3Credentials(dir)
			if err != nil || access != "AKIDCLI" || secret != cliS3Secret {
				t.Errorf("credentials %q, %v", access, err)
			}
			cfg, err := node.ReadConfig(dir)
			if err != nil || cfg.Storage().Backend != node.BackendS3 || cfg.Storage().S3.Region != "eu-west-3" {
				t.Errorf("ReadConfig: %v", err)
			}
		})
	}
}

// TestCreateS3FlagErrors: bad combinations are refused, saying why, and
// the secret never shows.
func TestCreateS3FlagErrors(t *testing.T) {
	base := t.TempDir()
	secretFile := filepath.Join(base, "secret")
	os.WriteFile(secretFile, []byte(cliS3Secret+"\n"), 0o600)
	twoLines := filepath.Join(base, "two-lines")
	os.WriteFile(twoLines, []byte(cliS3Secret+"\n"+cliS3Secret+"\n"), 0o600)
	dir := filepath.Join(base, "node")
	for _, c := range []struct {
		name  string
		args  []string
		stdin []byte
		code  int
		want  string
	}{
		{"no storage", s3CreateArgs(dir, secretFile, "--no-storage"), nil, 1, "cannot go with --no-storage"},
		{"missing secret file", s3CreateArgs(dir, filepath.Join(base, "nope")), nil, 1, "--s3-secret-access-key-file:"},
		{"two lines", s3CreateArgs(dir, twoLines), nil, 1, "on one line"},
		{"empty stdin", s3CreateArgs(dir, "-"), nil, 1, "on one line"},
		{"no credentials", []string{"create-node", "--hostname", "127.0.0.1", "--storage-backend", "s3",
			"--s3-endpoint", "https://s3.example.com", "--s3-bucket", "abc", dir}, nil, 1,
			"needs --s3-access-key-id, --s3-secret-access-key-file"},
		{"s3 flags for disk", []string{"create-node", "--hostname", "127.0.0.1", "--s3-bucket", "abc",
			"--s3-secret-access-key-file", secretFile, dir}, nil, 1, "--s3-bucket, --s3-secret-access-key-file: the --s3-* options are for --storage-backend=s3"},
		{"bad bucket", s3CreateArgs(dir, secretFile, "--s3-bucket", "No_Such"), nil, 1, "--s3-bucket:"},
		{"client", []string{"create-client", "--s3-bucket", "abc", dir}, nil, 2, "unknown option --s3-bucket"},
		{"introducer", []string{"create-introducer", "--storage-backend", "s3", dir}, nil, 2, "unknown option --storage-backend"},
		{"secret on the command line", []string{"create-node", "--s3-secret-access-key", cliS3Secret, dir}, nil, 2, "unknown option"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := runCmd(t, c.stdin, c.args...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d saying %q", code, errOut, c.code, c.want)
			}
			if strings.Contains(out+errOut, cliS3Secret) {
				t.Errorf("the secret shows: %q %q", out, errOut)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Fatalf("%s was made", dir)
			}
		})
	}
}

// TestCreateS3Help: the help says where the secret comes from, and why.
func TestCreateS3Help(t *testing.T) {
	out, _, code := runHelpCmd(t, "create-node", "--help")
	for _, s := range []string{"--storage-backend", "--s3-endpoint", "--s3-bucket", "--s3-region", "--s3-prefix",
		"--s3-path-style", "--s3-access-key-id", "--s3-secret-access-key-file", "standard input", "process list", "not contacted"} {
		if code != 0 || !strings.Contains(out, s) {
			t.Errorf("create-node --help does not say %q:\n%s", s, out)
		}
	}
	if out, _, _ := runHelpCmd(t, "create-client", "--help"); strings.Contains(out, "--s3-") {
		t.Errorf("create-client offers S3 options:\n%s", out)
	}
}
