package main

// How every verb reads its command line: one flag set per verb
// (newFlagSet), parsed by parseFlags, which takes options wherever they
// stand (before, between or after the positional arguments, as Tahoe's
// Twisted parser and getopt do), splits bundled short options ("-lF",
// "-C/dir"), stops at "--", and answers -h/--help with the verb's help on
// standard output. The help's option list is made from the flag set
// itself, so it cannot drift from what the verb accepts.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"
)

// newFlagSet is a verb's flag set. help is the verb's usage line and
// description (the option list is added from the flags); name is how the
// verb is called in messages ("get", "debug dump-cap", with or without a
// leading "lafs ").
func newFlagSet(e *env, name, help string) *flag.FlagSet {
	name = strings.TrimPrefix(name, "lafs ")
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parseFlags reports errors itself
	fs.Usage = func() {
		if e.probe != nil {
			e.probe.flags = fs
		}
		printHelp(e.stdout, fs, help)
	}
	return fs
}

// parseFlags parses a verb's command line, options anywhere: it returns
// &exitError{code: 0} after printing the help for -h or --help, and a
// usage error (exit 2) naming the verb for a bad option.
func parseFlags(fs *flag.FlagSet, args []string) error {
	usage := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = usage }()
	opts, pos, err := permute(fs, args)
	if err == nil {
		err = fs.Parse(append(append(opts, "--"), pos...))
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage()
		return &exitError{code: 0}
	case err != nil:
		return usagef("lafs %s: %s\nRun 'lafs %s --help' for the options.", fs.Name(), flagError(err, args), fs.Name())
	}
	return nil
}

// flagError words the flag package's error as the rest of the CLI does:
// options shown as typed in args, or with their double dash.
func flagError(err error, args []string) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		for _, a := range args {
			if typed, _, _ := strings.Cut(a, "="); strings.HasPrefix(typed, "-") && strings.TrimLeft(typed, "-") == name {
				return "unknown option " + typed
			}
		}
		return "unknown option " + dashed(name)
	}
	if rest, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return "option " + dashed(rest) + " needs a value"
	}
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		// invalid value "x" for flag -n: parse error
		if v, f, ok := strings.Cut(rest, " for flag -"); ok {
			name, why, _ := strings.Cut(f, ": ")
			return fmt.Sprintf("bad value %s for %s: %s", v, dashed(name), why)
		}
	}
	if rest, ok := strings.CutPrefix(msg, "invalid boolean value "); ok {
		if v, f, ok := strings.Cut(rest, " for -"); ok {
			name, _, _ := strings.Cut(f, ": ")
			return fmt.Sprintf("bad value %s for %s: want true or false", v, dashed(name))
		}
	}
	return msg
}

// dashed is an option's name as typed: "-x" for one letter, "--long" else.
func dashed(name string) string {
	if utf8.RuneCountInString(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// permute splits a command line into its options (each with its value, in
// the order given, bundles of short options split) and its positional
// arguments. Which options take a value comes from fs: a flag whose Value
// is not a boolean flag takes the next argument whole ("--format MDMF"),
// unless its value is joined to it ("--format=MDMF", "-C/dir"). "--" ends
// the options; "-" alone is positional. An option missing its value at
// the end is an error.
func permute(fs *flag.FlagSet, args []string) (opts, pos []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if f := fs.Lookup(name); f != nil || name == "h" || name == "help" {
			opts = append(opts, a)
			if f != nil && !hasValue && !isBoolFlag(f) {
				if i+1 == len(args) {
					return nil, nil, errNeedsValue(f.Name)
				}
				i++
				opts = append(opts, args[i])
			}
			continue
		}
		if a[1] != '-' {
			if split, takesNext, ok := splitBundle(fs, a[1:]); ok {
				opts = append(opts, split...)
				if takesNext {
					if i+1 == len(args) {
						return nil, nil, errNeedsValue(strings.TrimPrefix(split[len(split)-1], "-"))
					}
					i++
					opts = append(opts, args[i])
				}
				continue
			}
		}
		opts = append(opts, a) // unknown: fs.Parse says so
	}
	return opts, pos, nil
}

// errNeedsValue is the flag package's error for an option missing its
// value, which flagError words.
func errNeedsValue(name string) error { return fmt.Errorf("flag needs an argument: -%s", name) }

// splitBundle splits getopt's bundled short options: "lF" is -l -F when
// both are boolean flags; a letter that takes a value takes the rest of
// the bundle ("C/dir" is -C /dir), or, at the end, the next argument
// (takesNext). ok is false when some letter is no flag of fs.
func splitBundle(fs *flag.FlagSet, letters string) (opts []string, takesNext, ok bool) {
	for i, r := range letters {
		f := fs.Lookup(string(r))
		if f == nil {
			return nil, false, false
		}
		if isBoolFlag(f) {
			opts = append(opts, "-"+string(r))
			continue
		}
		rest := letters[i+utf8.RuneLen(r):]
		if rest == "" {
			return append(opts, "-"+string(r)), true, true
		}
		return append(opts, "-"+string(r), rest), false, true
	}
	return opts, false, true
}

// isBoolFlag reports whether a flag takes no value.
func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// option is one line of a verb's option list: a long name and its short
// alias (either may be empty), the value's name, what it does.
type option struct {
	long, short string
	arg         string // "" for a boolean flag
	usage, def  string
}

// options groups fs's flags into options: a one-letter flag is the short
// alias of the long flag it says it is "short for", or of the long flag
// that sets the same variable. Sorted by long name (short-only options by
// their letter).
func options(fs *flag.FlagSet) []option {
	byName := map[string]*option{}
	var all []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { all = append(all, f) })
	var shorts []*flag.Flag
	for _, f := range all {
		if utf8.RuneCountInString(f.Name) == 1 {
			shorts = append(shorts, f)
			continue
		}
		byName[f.Name] = newOption(f)
	}
	for _, f := range shorts {
		if long := aliasOf(f, all); long != "" && byName[long] != nil && byName[long].short == "" {
			byName[long].short = f.Name
			continue
		}
		o := newOption(f)
		o.long, o.short = "", f.Name
		byName[f.Name] = o
	}
	out := make([]option, 0, len(byName))
	for _, o := range byName {
		out = append(out, *o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

func (o option) key() string {
	if o.long != "" {
		return o.long
	}
	return o.short
}

// argNames name the values of options many verbs share, where the usage
// does not name them (with backquotes).
var argNames = map[string]string{
	"node-directory": "NODEDIR",
	"basedir":        "NODEDIR",
	"node-url":       "URL",
	"dir-cap":        "DIRCAP",
}

func newOption(f *flag.Flag) *option {
	o := &option{long: f.Name}
	name, usage := flag.UnquoteUsage(f)
	o.usage = usage
	if !isBoolFlag(f) {
		switch {
		case strings.Contains(f.Usage, "`"):
			o.arg = name
		case argNames[f.Name] != "":
			o.arg = argNames[f.Name]
		default:
			o.arg = strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		}
		switch f.DefValue {
		case "", "0", "[]":
		default:
			o.def = f.DefValue
		}
	}
	return o
}

// aliasOf names the long flag that the one-letter flag s stands for: the
// one its usage says it is "short for", else one that sets the same
// variable; "" if none.
func aliasOf(s *flag.Flag, all []*flag.Flag) string {
	if _, after, ok := strings.Cut(s.Usage, "short for --"); ok {
		end := strings.IndexFunc(after, func(r rune) bool {
			return !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		})
		if end < 0 {
			end = len(after)
		}
		return after[:end]
	}
	sv := reflect.ValueOf(s.Value)
	if sv.Kind() != reflect.Pointer {
		return ""
	}
	for _, f := range all {
		if f == s || utf8.RuneCountInString(f.Name) == 1 {
			continue
		}
		fv := reflect.ValueOf(f.Value)
		if fv.Kind() == reflect.Pointer && fv.Type() == sv.Type() && fv.Pointer() == sv.Pointer() {
			return f.Name
		}
	}
	return ""
}

// helpWidth is where printHelp wraps option descriptions.
const helpWidth = 79

// printHelp prints a verb's help: help (its usage line and description),
// then the option list made from fs.
func printHelp(w io.Writer, fs *flag.FlagSet, help string) {
	fmt.Fprintln(w, strings.TrimRight(help, "\n"))
	fmt.Fprintln(w, "\noptions:")
	opts := append(options(fs), option{long: "help", short: "h", usage: "show this help and exit"})
	lefts := make([]string, len(opts))
	col := 0
	for i, o := range opts {
		var b strings.Builder
		b.WriteString("  ")
		switch {
		case o.short != "" && o.long != "":
			fmt.Fprintf(&b, "-%s, --%s", o.short, o.long)
		case o.short != "":
			fmt.Fprintf(&b, "-%s", o.short)
		default:
			fmt.Fprintf(&b, "    --%s", o.long)
		}
		if o.arg != "" {
			b.WriteString(" " + o.arg)
		}
		lefts[i] = b.String()
		col = max(col, utf8.RuneCountInString(lefts[i]))
	}
	col = min(col, 34) + 2 // a longer one gets a line of its own
	for i, o := range opts {
		desc := o.usage
		if o.def != "" {
			desc += " (default: " + o.def + ")"
		}
		left := lefts[i]
		pad := col - utf8.RuneCountInString(left)
		if pad < 2 {
			fmt.Fprintln(w, left)
			left, pad = "", col
		}
		lines := wrapWords(desc, helpWidth-col)
		for j, l := range lines {
			if j > 0 {
				left, pad = "", col
			}
			fmt.Fprintf(w, "%s%s%s\n", left, strings.Repeat(" ", pad), l)
		}
		if len(lines) == 0 {
			fmt.Fprintln(w, left)
		}
	}
}

// wrapWords breaks s into lines of at most width characters (a longer
// word gets a line of its own).
func wrapWords(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) <= width:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
