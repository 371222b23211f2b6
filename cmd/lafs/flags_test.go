package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
)

// testFlags is a flag set shaped like a verb's: booleans with short
// aliases, a value option with one, a value option without.
type testFlags struct {
	fs             *flag.FlagSet
	long, classify bool
	mutable        bool
	format, dir    string
	out            *bytes.Buffer
}

func newTestFlags() *testFlags {
	t := &testFlags{out: &bytes.Buffer{}}
	t.fs = newFlagSet(&env{stdout: t.out, stderr: io.Discard}, "x", "usage: lafs x [options] ARG...\n\nDo x.")
	t.fs.BoolVar(&t.long, "long", false, "use long format")
	t.fs.BoolVar(&t.long, "l", false, "short for --long")
	t.fs.BoolVar(&t.classify, "classify", false, "append '/' to directories")
	t.fs.BoolVar(&t.classify, "F", false, "short for --classify")
	t.fs.BoolVar(&t.mutable, "mutable", false, "make it mutable")
	t.fs.StringVar(&t.format, "format", "", "the file `FORMAT`")
	t.fs.StringVar(&t.dir, "basedir", "", "the node directory")
	t.fs.StringVar(&t.dir, "C", "", "") // an alias found by its variable
	return t
}

func TestParseFlagsPermute(t *testing.T) {
	for _, tt := range []struct {
		args           []string
		long, classify bool
		mutable        bool
		format, dir    string
		pos            []string
	}{
		{args: []string{"FILE", "alias:x", "--mutable"}, mutable: true, pos: []string{"FILE", "alias:x"}},
		{args: []string{"--mutable", "FILE", "alias:x"}, mutable: true, pos: []string{"FILE", "alias:x"}},
		{args: []string{"a", "--format", "MDMF", "b"}, format: "MDMF", pos: []string{"a", "b"}},
		{args: []string{"a", "--format=MDMF", "b"}, format: "MDMF", pos: []string{"a", "b"}},
		{args: []string{"a", "-format", "SDMF"}, format: "SDMF", pos: []string{"a"}},
		// A value option takes the next argument whole, dash or not.
		{args: []string{"--format", "-l", "a"}, format: "-l", pos: []string{"a"}},
		// Bundled short options, getopt style.
		{args: []string{"-lF", "golden:"}, long: true, classify: true, pos: []string{"golden:"}},
		{args: []string{"golden:", "-Fl"}, long: true, classify: true, pos: []string{"golden:"}},
		{args: []string{"-lC/some/dir", "a"}, long: true, dir: "/some/dir", pos: []string{"a"}},
		{args: []string{"-lC", "/some dir", "a"}, long: true, dir: "/some dir", pos: []string{"a"}},
		{args: []string{"-C=/d", "a"}, dir: "/d", pos: []string{"a"}},
		// "--" ends the options; "-" is an argument.
		{args: []string{"-l", "--", "--mutable", "-F"}, long: true, pos: []string{"--mutable", "-F"}},
		{args: []string{"-", "alias:x", "-"}, pos: []string{"-", "alias:x", "-"}},
		{args: []string{"--long=false", "a", "--", "--"}, pos: []string{"a", "--"}},
		{args: nil},
	} {
		f := newTestFlags()
		if err := parseFlags(f.fs, tt.args); err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if f.long != tt.long || f.classify != tt.classify || f.mutable != tt.mutable || f.format != tt.format || f.dir != tt.dir {
			t.Errorf("%q: long=%v classify=%v mutable=%v format=%q dir=%q", tt.args, f.long, f.classify, f.mutable, f.format, f.dir)
		}
		if got := f.fs.Args(); !reflect.DeepEqual(got, tt.pos) && (len(got) != 0 || len(tt.pos) != 0) {
			t.Errorf("%q: positional %q, want %q", tt.args, got, tt.pos)
		}
	}
}

func TestParseFlagsErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"a", "--bogus"}, "lafs x: unknown option --bogus\n"},
		{[]string{"-lz"}, "unknown option -lz"},
		{[]string{"a", "--format"}, "option --format needs a value"},
		{[]string{"--long=maybe"}, `bad value "maybe" for --long`},
	} {
		f := newTestFlags()
		err := parseFlags(f.fs, tt.args)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "Run 'lafs x --help'") {
			t.Errorf("%q: %v; want a usage error saying %q", tt.args, err, tt.want)
		}
		if f.out.Len() != 0 {
			t.Errorf("%q: printed %q on stdout", tt.args, f.out)
		}
	}
}

func TestParseFlagsHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"a", "b", "--help"}, {"-help"}, {"--format", "x", "-h"}} {
		f := newTestFlags()
		err := parseFlags(f.fs, args)
		var x *exitError
		if !errors.As(err, &x) || x.code != 0 || x.msg != "" {
			t.Errorf("%q: %v, want exit 0 without a message", args, err)
		}
		if !strings.HasPrefix(f.out.String(), "usage: lafs x [options] ARG...\n\nDo x.\n\noptions:\n") {
			t.Errorf("%q: help is\n%s", args, f.out)
		}
	}
	// After "--", --help is an argument.
	f := newTestFlags()
	if err := parseFlags(f.fs, []string{"--", "--help"}); err != nil || f.fs.Arg(0) != "--help" || f.out.Len() != 0 {
		t.Errorf("-- --help: %v, args %q, out %q", err, f.fs.Args(), f.out)
	}
}

func TestHelpOptionList(t *testing.T) {
	f := newTestFlags()
	f.fs.Int("segment-size", 131072, "maximum segment size in `BYTES`")
	f.fs.String("o", "", "an option with no long name")
	f.fs.String("tahoe-dir", "", strings.Repeat("a long description that has to wrap ", 4))
	parseFlags(f.fs, []string{"--help"})
	want := `usage: lafs x [options] ARG...

Do x.

options:
  -C, --basedir NODEDIR      the node directory
  -F, --classify             append '/' to directories
      --format FORMAT        the file FORMAT
  -l, --long                 use long format
      --mutable              make it mutable
  -o O                       an option with no long name
      --segment-size BYTES   maximum segment size in BYTES (default: 131072)
      --tahoe-dir TAHOE_DIR  a long description that has to wrap a long
                             description that has to wrap a long description
                             that has to wrap a long description that has to
                             wrap
  -h, --help                 show this help and exit
`
	if got := f.out.String(); got != want {
		t.Errorf("help:\n%s\nwant:\n%s", got, want)
	}
}
