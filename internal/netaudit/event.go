package netaudit

import (
	"fmt"
	"net/netip"
	"strings"
)

// An Event is one system call that named a socket address: a connect, a
// bind, or a send to an explicit address (sendto, sendmsg, sendmmsg).
type Event struct {
	PID     int    // the thread that made the call, as strace numbers it
	Syscall string // connect, bind, sendto, sendmsg or sendmmsg
	// Family is the address family without "AF_", in lower case: inet,
	// inet6, unix, netlink, packet, ...
	Family string
	// Addr is the address: ip:port for inet, [ip]:port for inet6, the
	// path for unix ("@name" for an abstract socket, "" for an unnamed
	// one), the other members as strace prints them for other families.
	Addr string
	// Result is what the call returned as strace prints it: "0",
	// "-1 EINPROGRESS (Operation now in progress)", "?" if the process
	// died during the call, "<unfinished>" if strace never printed its end.
	Result string
	// Unparsed is set when the line could not be read as such a call: it
	// is always a violation (see Check).
	Unparsed bool
	Line     string // strace's line (two lines joined, for a split call)
}

// AddrPort returns the address of an inet or inet6 event (an IPv4-mapped
// IPv6 address unmapped).
func (e Event) AddrPort() (netip.AddrPort, bool) {
	if e.Unparsed || (e.Family != "inet" && e.Family != "inet6") {
		return netip.AddrPort{}, false
	}
	ap, err := netip.ParseAddrPort(e.Addr)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}

// String describes e in one line.
func (e Event) String() string {
	if e.Unparsed {
		return fmt.Sprintf("pid %d: %s not understood (counted as a violation): %s", e.PID, orQ(e.Syscall), e.Line)
	}
	return fmt.Sprintf("pid %d: %s %s %q = %s", e.PID, e.Syscall, e.Family, e.Addr, e.Result)
}

func orQ(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// Check returns the events allowed does not allow, and every unparsed
// event whatever allowed says: what the audit cannot read, it refuses.
func Check(events []Event, allowed func(Event) bool) []Event {
	var bad []Event
	for _, e := range events {
		if e.Unparsed || !allowed(e) {
			bad = append(bad, e)
		}
	}
	return bad
}

// maxShown is how many violations Format lists.
const maxShown = 40

// Format describes the violations Check returned, one a line, for
// t.Errorf. It lists the first few, then says how many more there were.
func Format(violations []Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d network operation(s) not allowed:", len(violations))
	for i, e := range violations {
		if i == maxShown {
			fmt.Fprintf(&b, "\n\t... and %d more", len(violations)-maxShown)
			break
		}
		b.WriteString("\n\t")
		b.WriteString(e.String())
	}
	return b.String()
}
