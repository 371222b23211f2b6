package netaudit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// tracedCalls are the system calls Wrap asks strace to show: every way a
// process names a peer or a local address for a socket.
var tracedCalls = []string{"connect", "bind", "sendto", "sendmsg", "sendmmsg"}

func traced(name string) bool {
	for _, c := range tracedCalls {
		if c == name {
			return true
		}
	}
	return false
}

// Parse reads the output of strace -f (one file, each line led by the
// thread's ID) and returns the events of the system calls connect, bind,
// sendto, sendmsg and sendmmsg, in the order strace finished printing
// them. A call strace split in two (an "<unfinished ...>" line, then a
// "<... NAME resumed>" line of the same thread) is joined; a call still
// unfinished at the end is reported with Result "<unfinished>".
//
// Sends with no address (sendto with NULL, sendmsg with msg_name=NULL: a
// connected socket, whose peer its connect named) are left out. Every
// other line that names one of those calls and cannot be read is reported
// as an event with Unparsed set, never dropped. Other lines (other calls,
// signals, exits) are skipped.
func Parse(r io.Reader) ([]Event, error) {
	p := parser{pending: map[int]string{}}
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			p.line(strings.TrimRight(line, "\r\n"))
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return p.events, fmt.Errorf("netaudit: reading strace output: %w", err)
		}
	}
	p.flush()
	return p.events, nil
}

type parser struct {
	events  []Event
	pending map[int]string // thread ID → start of an unfinished call
	order   []int          // the threads of pending, in the order they began
}

// line reads one line of strace's output.
func (p *parser) line(s string) {
	pid, rest := splitPID(s)
	if after, ok := strings.CutPrefix(rest, "<... "); ok {
		name, tail, ok := strings.Cut(after, " resumed>")
		head, had := p.pending[pid]
		if had {
			p.unpend(pid)
		}
		switch {
		case !ok:
			p.unknown(pid, s)
			return
		case !had || callName(head) != name:
			// The start of the call is missing: what it named is not known.
			if traced(name) {
				p.events = append(p.events, Event{PID: pid, Syscall: name, Unparsed: true, Line: s})
			}
			if had {
				p.call(pid, head, false)
			}
			return
		}
		rest = head + tail
	}
	if head, ok := strings.CutSuffix(rest, " <unfinished ...>"); ok {
		if old, had := p.pending[pid]; had {
			p.unpend(pid)
			p.call(pid, old, false)
		}
		p.pending[pid] = head
		p.order = append(p.order, pid)
		return
	}
	p.call(pid, rest, true)
}

func (p *parser) unpend(pid int) {
	delete(p.pending, pid)
	for i, q := range p.order {
		if q == pid {
			p.order = append(p.order[:i], p.order[i+1:]...)
			break
		}
	}
}

// flush reports the calls still unfinished at the end of the output.
func (p *parser) flush() {
	for _, pid := range p.order {
		p.call(pid, p.pending[pid], false)
	}
	p.order, p.pending = nil, map[int]string{}
}

// splitPID splits the thread ID from the start of a line: "1234 call(...)"
// as strace -f -o FILE writes, or "[pid 1234] call(...)" as it writes to
// its standard error. A line with neither has PID 0.
func splitPID(s string) (int, string) {
	if rest, ok := strings.CutPrefix(s, "[pid "); ok {
		num, tail, ok := strings.Cut(rest, "]")
		if n, err := strconv.Atoi(strings.TrimSpace(num)); ok && err == nil {
			return n, strings.TrimLeft(tail, " ")
		}
		return 0, s
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i == len(s) || s[i] != ' ' {
		return 0, s
	}
	n, err := strconv.Atoi(s[:i])
	if err != nil {
		return 0, s
	}
	return n, strings.TrimLeft(s[i:], " ")
}

// callName returns the name of the system call s begins with, or "".
func callName(s string) string {
	i := 0
	for i < len(s) && (s[i] == '_' || s[i] >= 'a' && s[i] <= 'z' || i > 0 && s[i] >= '0' && s[i] <= '9') {
		i++
	}
	if i == 0 || i == len(s) || s[i] != '(' {
		return ""
	}
	return s[:i]
}

// unknown handles a line that is not a system call as strace prints one:
// if it looks like one of the traced calls, it is reported unparsed.
func (p *parser) unknown(pid int, s string) {
	for _, c := range tracedCalls {
		if strings.Contains(s, c+"(") || strings.Contains(s, "<... "+c) {
			p.events = append(p.events, Event{PID: pid, Syscall: c, Unparsed: true, Line: s})
			return
		}
	}
	if strings.Contains(s, "AF_INET") {
		p.events = append(p.events, Event{PID: pid, Unparsed: true, Line: s})
	}
}

// call reads one system call, "name(args) = result", or, when complete is
// false, the start of one whose end strace never printed.
func (p *parser) call(pid int, s string, complete bool) {
	name := callName(s)
	if name == "" {
		if strings.HasPrefix(s, "---") || strings.HasPrefix(s, "+++") {
			// A signal, or a thread's exit. (strace prints no
			// address outside a system call line.)
			if !strings.Contains(s, "AF_INET") {
				return
			}
		}
		p.unknown(pid, s)
		return
	}
	if !traced(name) {
		return
	}
	bad := func() {
		p.events = append(p.events, Event{PID: pid, Syscall: name, Unparsed: true, Line: s})
	}
	args, result, ok := splitCall(s[len(name)+1:], complete)
	if !ok {
		bad()
		return
	}
	if !complete {
		result = "<unfinished>"
	}
	arg := func(i int) (string, bool) {
		if i >= len(args) {
			return "", false
		}
		return args[i], true
	}
	var addrs []string
	switch name {
	case "connect", "bind":
		a, ok := arg(1)
		if !ok {
			bad()
			return
		}
		addrs = []string{a}
	case "sendto":
		a, ok := arg(4)
		if !ok {
			bad()
			return
		}
		if a == "NULL" {
			return
		}
		addrs = []string{a}
	case "sendmsg":
		m, ok := arg(1)
		if !ok {
			bad()
			return
		}
		f, ok := structFields(m)
		if !ok {
			bad()
			return
		}
		a, ok := f.get("msg_name")
		if !ok {
			bad()
			return
		}
		if a == "NULL" {
			return
		}
		addrs = []string{a}
	case "sendmmsg":
		m, ok := arg(1)
		if !ok {
			bad()
			return
		}
		if m == "[]" {
			return
		}
		names, ok := msgNames(m)
		if !ok || len(names) == 0 {
			bad()
			return
		}
		for _, a := range names {
			if a != "NULL" {
				addrs = append(addrs, a)
			}
		}
	}
	for _, a := range addrs {
		fam, addr, ok := parseSockaddr(a)
		p.events = append(p.events, Event{PID: pid, Syscall: name, Family: fam, Addr: addr,
			Result: result, Unparsed: !ok, Line: s})
	}
}

// scanner walks strace's rendering of arguments, stepping over quoted
// strings and /* comments */ so that nothing inside them is taken for
// structure.
type scanner struct {
	s string
	i int
}

// skip steps over a quoted string or a comment at the current position
// and reports whether there was one. An unterminated one runs to the end.
func (sc *scanner) skip() bool {
	s, i := sc.s, sc.i
	switch {
	case s[i] == '"':
		i++
		for i < len(s) && s[i] != '"' {
			if s[i] == '\\' {
				i++
			}
			i++
		}
		sc.i = min(i+1, len(s))
		return true
	case strings.HasPrefix(s[i:], "/*"):
		end := strings.Index(s[i+2:], "*/")
		if end < 0 {
			sc.i = len(s)
		} else {
			sc.i = i + 2 + end + 2
		}
		return true
	}
	return false
}

// splitCall splits s, the text after "name(", into its arguments (see
// splitTop) and returns what follows "=" after the closing parenthesis.
// Without complete, the closing parenthesis may be missing.
func splitCall(s string, complete bool) (args []string, result string, ok bool) {
	end := closing(s)
	if end < 0 {
		if complete {
			return nil, "", false
		}
		args, ok := splitTop(s)
		return args, "", ok
	}
	args, ok = splitTop(s[:end])
	if !ok {
		return nil, "", false
	}
	r, ok := strings.CutPrefix(strings.TrimSpace(s[end+1:]), "=")
	if !ok {
		return args, "", !complete
	}
	return args, strings.TrimSpace(r), true
}

// closing returns the index in s of the parenthesis that closes the one
// before s, or -1.
func closing(s string) int {
	sc := scanner{s: s}
	depth := 0
	for sc.i < len(s) {
		if sc.skip() {
			continue
		}
		switch s[sc.i] {
		case '{', '[', '(':
			depth++
		case '}', ']':
			depth--
		case ')':
			if depth == 0 {
				return sc.i
			}
			depth--
		}
		if depth < 0 {
			return -1
		}
		sc.i++
	}
	return -1
}

// splitTop splits s at the commas outside any braces, brackets,
// parentheses, strings and comments, trimming spaces. It fails if the
// brackets do not balance.
func splitTop(s string) ([]string, bool) {
	var parts []string
	sc := scanner{s: s}
	depth, start := 0, 0
	for sc.i < len(s) {
		if sc.skip() {
			continue
		}
		switch s[sc.i] {
		case '{', '[', '(':
			depth++
		case '}', ']', ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, strings.TrimSpace(s[start:sc.i]))
				start = sc.i + 1
			}
		}
		if depth < 0 {
			return nil, false
		}
		sc.i++
	}
	if depth != 0 {
		return nil, false
	}
	return append(parts, strings.TrimSpace(s[start:])), true
}

// fields are the members of a struct as strace prints it: "key=value", or
// a bare item such as inet_pton(AF_INET6, "::1", &sin6_addr).
type fields []string

func (f fields) get(key string) (string, bool) {
	for _, m := range f {
		if v, ok := strings.CutPrefix(m, key+"="); ok {
			return v, true
		}
	}
	return "", false
}

// structFields splits "{a=1, b={c=2}, d}" into its top-level members.
func structFields(s string) (fields, bool) {
	inner, ok := strings.CutPrefix(s, "{")
	if !ok {
		return nil, false
	}
	inner, ok = strings.CutSuffix(inner, "}")
	if !ok {
		return nil, false
	}
	parts, ok := splitTop(inner)
	if !ok {
		return nil, false
	}
	var f fields
	for _, m := range parts {
		if m != "" {
			f = append(f, m)
		}
	}
	return f, true
}

// msgNames returns the value of every msg_name member in s, a sendmmsg
// vector, outside strings and comments.
func msgNames(s string) ([]string, bool) {
	var names []string
	sc := scanner{s: s}
	for sc.i < len(s) {
		if sc.skip() {
			continue
		}
		rest, ok := strings.CutPrefix(s[sc.i:], "msg_name=")
		if !ok {
			sc.i++
			continue
		}
		v, ok := value(rest)
		if !ok {
			return nil, false
		}
		names = append(names, v)
		sc.i += len("msg_name=") + len(v)
	}
	return names, true
}

// value returns the member value s begins with: a whole {...} group, or
// the text up to the comma or bracket that ends it.
func value(s string) (string, bool) {
	if !strings.HasPrefix(s, "{") {
		i := strings.IndexAny(s, ",}]")
		if i <= 0 {
			return "", false
		}
		return s[:i], true
	}
	sc := scanner{s: s}
	depth := 0
	for sc.i < len(s) {
		if sc.skip() {
			continue
		}
		switch s[sc.i] {
		case '{', '[', '(':
			depth++
		case '}', ']', ')':
			depth--
			if depth == 0 {
				return s[:sc.i+1], true
			}
		}
		sc.i++
	}
	return "", false
}

// parseSockaddr reads a socket address as strace prints it and returns
// its family (inet, inet6, unix, netlink, ...) and address: ip:port for
// inet and inet6, the path for unix ("@name" for an abstract one, "" for
// none), the members as printed for the other families. ok is false when
// it cannot be read; the family is then what could be read of it.
func parseSockaddr(s string) (family, addr string, ok bool) {
	f, ok := structFields(s)
	if !ok {
		if strings.Contains(s, "AF_INET") {
			return "inet?", "", false
		}
		return "", "", false
	}
	fam, ok := f.get("sa_family")
	if !ok {
		return "", "", false
	}
	family = strings.ToLower(strings.TrimPrefix(fam, "AF_"))
	switch fam {
	case "AF_INET":
		port, ok1 := htons(f.get("sin_port"))
		ip, ok2 := call1(f.get("sin_addr"))("inet_addr(")
		a, err := netip.ParseAddr(ip)
		if !ok1 || !ok2 || err != nil || !a.Is4() {
			return family, "", false
		}
		return family, netip.AddrPortFrom(a, port).String(), true
	case "AF_INET6":
		port, ok1 := htons(f.get("sin6_port"))
		var ip string
		ok2 := false
		for _, m := range f {
			_, v, _ := strings.Cut(m, "=") // sin6_addr=inet_pton(...) in some versions
			if !strings.HasPrefix(v, "inet_pton(") {
				v = m
			}
			if rest, ok := strings.CutPrefix(v, "inet_pton(AF_INET6,"); ok {
				q, tail, _ := strings.Cut(strings.TrimSpace(rest), ",")
				if strings.TrimSpace(tail) == "&sin6_addr)" {
					ip, ok2 = unquote(q)
				}
			}
		}
		a, err := netip.ParseAddr(ip)
		if !ok1 || !ok2 || err != nil || !a.Is6() {
			return family, "", false
		}
		return family, netip.AddrPortFrom(a, port).String(), true
	case "AF_UNIX":
		p, ok := f.get("sun_path")
		if !ok {
			return family, "", len(f) == 1 // unnamed
		}
		abstract := strings.HasPrefix(p, "@")
		path, ok := unquote(strings.TrimPrefix(p, "@"))
		if !ok {
			return family, "", false
		}
		if abstract {
			path = "@" + path
		}
		return family, path, true
	}
	if strings.Contains(fam, "INET") {
		return family, "", false
	}
	return family, strings.Join(f[1:], ", "), true
}

// htons reads "htons(N)".
func htons(v string, ok bool) (uint16, bool) {
	n, ok := call1(v, ok)("htons(")
	if !ok {
		return 0, false
	}
	p, err := strconv.ParseUint(n, 10, 16)
	return uint16(p), err == nil
}

// call1 reads the one argument of fn in v, "fn(ARG)", unquoting a string.
func call1(v string, ok bool) func(fn string) (string, bool) {
	return func(fn string) (string, bool) {
		if !ok {
			return "", false
		}
		a, ok := strings.CutPrefix(v, fn)
		if !ok {
			return "", false
		}
		a, ok = strings.CutSuffix(a, ")")
		if !ok {
			return "", false
		}
		if strings.HasPrefix(a, "\"") {
			return unquote(a)
		}
		return a, true
	}
}

// unquote reads a string as strace prints it: in double quotes, with C
// escapes (\n, \", \\, \xHH, octal \N to \NNN). A string strace cut short
// ("..." after the closing quote) is not read.
func unquote(s string) (string, bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", false
	}
	s = s[1 : len(s)-1]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' {
			return "", false
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(s) {
			return "", false
		}
		switch c = s[i]; c {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'v':
			b.WriteByte('\v')
		case 'f':
			b.WriteByte('\f')
		case '"', '\\':
			b.WriteByte(c)
		case 'x':
			if i+3 > len(s) {
				return "", false
			}
			n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", false
			}
			b.WriteByte(byte(n))
			i += 2
		default:
			if c < '0' || c > '7' {
				return "", false
			}
			j := i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			n, err := strconv.ParseUint(s[i:j], 8, 8)
			if err != nil {
				return "", false
			}
			b.WriteByte(byte(n))
			i = j - 1
		}
	}
	return b.String(), true
}
