package main

// Shell completion. The scripts that "lafs completion bash|zsh" print are
// thin: at each Tab they run "lafs completion complete WORDS...", and
// this file answers from the binary itself: the verb tables, each verb's
// flag set (learnt by asking it for its help, see probeHelp) and the
// aliases of the node the command line names, so completion never lags
// behind the verbs.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

const completionHelp = `usage: lafs completion bash|zsh

Print a script that makes the shell complete lafs's commands, their
sub-commands and options, alias names (from the aliases of the node that
-d names, else ~/.tahoe) and local files. To load it in the running shell:

  source <(lafs completion bash)    # bash (4 or later)
  source <(lafs completion zsh)     # zsh, after compinit

and to have it in every shell, put that line in ~/.bashrc or ~/.zshrc (or
save the zsh script as _lafs in a directory of $fpath). The scripts run
"lafs completion complete WORD..." at each Tab: it prints the candidates
for the last WORD, one a line, and ":files" or ":dirs" where local files
or directories fit too.`

// runCompletion is "lafs completion".
func runCompletion(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && args[0] == "complete" {
		// The scripts' call: what follows is a command line, not options.
		for _, c := range complete(e, args[1:]) {
			fmt.Fprintln(e.stdout, c)
		}
		return nil
	}
	fs := newFlagSet(e, "completion", completionHelp)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("%s", completionHelp)
	}
	switch fs.Arg(0) {
	case "bash":
		io.WriteString(e.stdout, bashCompletion)
	case "zsh":
		io.WriteString(e.stdout, zshCompletion)
	default:
		return usagef("lafs completion: no completion for the shell %q: bash or zsh", fs.Arg(0))
	}
	return nil
}

// Directives in complete's answer: the shell adds local files, or
// directories, to the candidates.
const (
	completeFiles = ":files"
	completeDirs  = ":dirs"
)

// complete returns the completions of the last of words, the command line
// after "lafs" (the last word is the one being typed, "" for a new one).
func complete(e *env, words []string) []string {
	if len(words) == 0 {
		words = []string{""}
	}
	cur, prev := words[len(words)-1], words[:len(words)-1]

	// Global options, before the verb.
	nodeDir := ""
	i := 0
	for ; i < len(prev); i++ {
		w := prev[i]
		switch {
		case w == "-d" || w == "--node-directory":
			if i+1 == len(prev) {
				return []string{completeDirs} // cur is its value
			}
			i++
			nodeDir = prev[i]
			continue
		case strings.HasPrefix(w, "--node-directory="):
			nodeDir = strings.TrimPrefix(w, "--node-directory=")
			continue
		case strings.HasPrefix(w, "-d") && !strings.HasPrefix(w, "--"):
			nodeDir = w[2:]
			continue
		case strings.HasPrefix(w, "-"):
			continue // --version and the like
		}
		break
	}
	if i == len(prev) {
		if strings.HasPrefix(cur, "-") {
			return matching(cur, []string{"-d", "--node-directory", "--help"})
		}
		return matching(cur, append(names(commands()), "help"))
	}

	// The verb, and sub-verbs of verbs that have a table of them.
	path := []string{}
	helping := false
	if prev[i] == "help" {
		helping = true
		i++
	}
	table := commands()
	var probe *helpProbe
	for {
		if i == len(prev) {
			return matching(cur, append(names(table), "help"))
		}
		if _, ok := lookup(table, prev[i]); !ok {
			if prev[i] == "help" && !helping {
				helping = true
				i++
				continue
			}
			return nil
		}
		path = append(path, prev[i])
		i++
		probe = probeHelp(path)
		if probe.table == nil {
			break
		}
		table = probe.table
	}
	if helping {
		return nil
	}
	fs := probe.flags
	if fs == nil {
		return []string{completeFiles}
	}

	// The verb's options and arguments.
	dashes := false
	for ; i < len(prev); i++ {
		w := prev[i]
		if dashes || len(w) < 2 || w[0] != '-' {
			continue
		}
		if w == "--" {
			dashes = true
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
		f := fs.Lookup(name)
		if f == nil || isBoolFlag(f) {
			continue
		}
		if !hasValue {
			if i+1 == len(prev) {
				return valueCompletion(f, cur)
			}
			i++
			value = prev[i]
		}
		if name == "d" || name == "node-directory" {
			nodeDir = value
		}
	}
	if !dashes && strings.HasPrefix(cur, "-") {
		if strings.Contains(cur, "=") {
			return nil
		}
		var opts []string
		for _, o := range options(fs) {
			if o.long != "" {
				opts = append(opts, "--"+o.long)
			}
			if o.short != "" {
				opts = append(opts, "-"+o.short)
			}
		}
		return matching(cur, append(opts, "--help", "-h"))
	}
	if fs.Lookup("basedir") != nil || path[0] == "local-grid" {
		return []string{completeDirs}
	}
	var out []string
	if fs.Lookup("dir-cap") != nil && !strings.Contains(cur, ":") && !strings.Contains(cur, "/") {
		// A verb of the grid's files: its paths start with an alias.
		if nodeDir == "" {
			nodeDir = defaultNodeDir(e)
		}
		if aliases, err := readAliases(expandUser(e, nodeDir)); err == nil {
			for name := range aliases {
				out = append(out, name+":")
			}
			sort.Strings(out)
			out = matching(cur, out)
		}
	}
	return append(out, completeFiles)
}

// valueCompletion completes cur, the value of flag f.
func valueCompletion(f *flag.Flag, cur string) []string {
	switch f.Name {
	case "d", "node-directory", "C", "basedir", "client-dir", "storage-dir":
		return []string{completeDirs}
	case "format":
		return matching(strings.ToUpper(cur), []string{"CHK", "MDMF", "SDMF"})
	}
	return []string{completeFiles}
}

// names lists a verb table's names, sorted.
func names(table []command) []string {
	out := make([]string, 0, len(table))
	for _, c := range table {
		out = append(out, c.name)
	}
	sort.Strings(out)
	return out
}

// matching keeps the candidates that start with prefix.
func matching(prefix string, candidates []string) []string {
	var out []string
	for _, c := range candidates {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// bashCompletion is the script of "lafs completion bash". Bash splits
// words at ":" (COMP_WORDBREAKS), so the script takes the word being typed
// whole from the line, glues the words before it back together, and
// hands back candidates without the part of the word bash keeps. Quotes
// around earlier words are taken off (a simple dequoting: no expansion).
const bashCompletion = `# bash completion for lafs. Load it with:  source <(lafs completion bash)
_lafs_dequote() {
    local w="$1"
    case "$w" in
    \'*\') w="${w:1:${#w}-2}" ;;
    \"*\") w="${w:1:${#w}-2}" ;;
    *) w="${w//\\/}" ;;
    esac
    [[ $w == "~/"* ]] && w="$HOME/${w:2}"
    printf '%s' "$w"
}
_lafs() {
    local line="${COMP_LINE:0:COMP_POINT}"
    local full="${line##*[[:space:]]}"
    local bcur="${COMP_WORDS[COMP_CWORD]}"
    local k=$COMP_CWORD acc="$bcur"
    while (( k > 1 )) && [[ $acc != "$full" && $full == *"$acc" ]]; do
        (( k-- ))
        acc="${COMP_WORDS[k]}$acc"
    done
    local -a before=()
    local i w glue=0
    for (( i = 0; i < k; i++ )); do
        w="${COMP_WORDS[i]}"
        if (( ${#before[@]} > 1 )) && [[ $w == : || $glue == 1 ]]; then
            before[${#before[@]}-1]+="$w"
        else
            before+=("$w")
        fi
        [[ $w == : ]] && glue=1 || glue=0
    done
    for (( i = 0; i < ${#before[@]}; i++ )); do
        before[i]="$(_lafs_dequote "${before[i]}")"
    done
    local keep=""
    [[ $full == *"$bcur" ]] && keep="${full%"$bcur"}"
    local c files="" nospace=""
    COMPREPLY=()
    while IFS= read -r c; do
        case "$c" in
        :files) files=f ;;
        :dirs) files=${files:-d} ;;
        "") ;;
        *)
            [[ $c == *: ]] && nospace=1
            COMPREPLY+=("${c#"$keep"}")
            ;;
        esac
    done < <("${before[0]:-lafs}" completion complete "${before[@]:1}" "$full" 2>/dev/null)
    if [[ -n $files ]]; then
        compopt -o filenames 2>/dev/null
        while IFS= read -r c; do
            COMPREPLY+=("${c#"$keep"}")
        done < <(compgen -"$files" -- "$full")
    fi
    if [[ -n $nospace ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}
complete -F _lafs lafs
`

// zshCompletion is the script of "lafs completion zsh".
const zshCompletion = `#compdef lafs
# zsh completion for lafs. Load it with:  source <(lafs completion zsh)
# (after compinit), or save it as _lafs in a directory of $fpath.
_lafs() {
    local -a out cands bare
    local c files="" cmd="${(Q)words[1]}"
    cmd="${cmd/#\~/$HOME}"
    out=("${(@f)$("$cmd" completion complete "${(@Q)words[2,CURRENT]}" 2>/dev/null)}")
    for c in "${out[@]}"; do
        case "$c" in
        :files) files=f ;;
        :dirs) [[ -z $files ]] && files=d ;;
        "") ;;
        *:) bare+=("$c") ;;
        *) cands+=("$c") ;;
        esac
    done
    (( ${#cands} )) && compadd -- "${cands[@]}"
    (( ${#bare} )) && compadd -S '' -- "${bare[@]}"
    case $files in
    f) _files ;;
    d) _files -/ ;;
    esac
    return 0
}
if [[ "${funcstack[1]}" == "_lafs" ]]; then
    _lafs "$@"
else
    compdef _lafs lafs
fi
`
