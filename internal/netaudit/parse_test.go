package netaudit

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// ev is an Event without its line, for comparisons.
type ev struct {
	PID                        int
	Syscall, Family, Addr, Res string
	Unparsed                   bool
}

func strip(events []Event) []ev {
	var out []ev
	for _, e := range events {
		out = append(out, ev{e.PID, e.Syscall, e.Family, e.Addr, e.Result, e.Unparsed})
	}
	return out
}

// Lines as strace 6.1 prints them (strace -f -qq -o FILE), most of them
// copied from real traces.
func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []ev
	}{
		{"inet connect in progress",
			`20959 connect(3, {sa_family=AF_INET, sin_port=htons(9050), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)`,
			[]ev{{20959, "connect", "inet", "127.0.0.1:9050", "-1 EINPROGRESS (Operation now in progress)", false}}},
		{"inet6 connect refused",
			`20959 connect(4, {sa_family=AF_INET6, sin6_port=htons(39219), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = -1 ECONNREFUSED (Connection refused)`,
			[]ev{{20959, "connect", "inet6", "[::1]:39219", "-1 ECONNREFUSED (Connection refused)", false}}},
		{"inet6 with the address as a member (older strace)",
			`7 connect(4, {sa_family=AF_INET6, sin6_port=htons(53), sin6_flowinfo=htonl(0), sin6_addr=inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}, 28) = 0`,
			[]ev{{7, "connect", "inet6", "[2001:db8::1]:53", "0", false}}},
		{"bind, aligned result",
			`21152 bind(4, {sa_family=AF_UNIX}, 2)   = 0`,
			[]ev{{21152, "bind", "unix", "", "0", false}}},
		{"unix path with escapes",
			`21152 connect(6, {sa_family=AF_UNIX, sun_path="/tmp/x\n\1\"y\x41"}, 13) = -1 ENOENT (No such file or directory)`,
			[]ev{{21152, "connect", "unix", "/tmp/x\n\x01\"yA", "-1 ENOENT (No such file or directory)", false}}},
		{"abstract unix socket",
			`20959 connect(4, {sa_family=AF_UNIX, sun_path=@"abstr"}, 8) = -1 ECONNREFUSED (Connection refused)`,
			[]ev{{20959, "connect", "unix", "@abstr", "-1 ECONNREFUSED (Connection refused)", false}}},
		{"nscd",
			`20960 connect(4, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT (No such file or directory)`,
			[]ev{{20960, "connect", "unix", "/var/run/nscd/socket", "-1 ENOENT (No such file or directory)", false}}},
		{"netlink",
			`21152 bind(6, {sa_family=AF_NETLINK, nl_pad=0x8de6, nl_pid=0, nl_groups=00000000}, 12) = 0`,
			[]ev{{21152, "bind", "netlink", "nl_pad=0x8de6, nl_pid=0, nl_groups=00000000", "0", false}}},
		{"sendto a connected socket: no address, nothing to report",
			`20960 sendto(4, "?\324\1\0\0\1\0\0\0\0\0\0\7example\7invalid\0\0\34\0\1", 33, MSG_NOSIGNAL, NULL, 0) = 33`,
			nil},
		{"sendto an address, data that looks like one",
			`5 sendto(4, "a\", {sa_family=AF_INET, sin_port=htons(1), sin_addr=inet_addr(\"1.1.1.1\")}, 16) = 4"..., 400, 0, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.0.0.53")}, 16) = 400`,
			[]ev{{5, "sendto", "inet", "10.0.0.53:53", "400", false}}},
		{"sendto inet6",
			`20961 sendto(4, "a\"b(", 4, 0, {sa_family=AF_INET6, sin6_port=htons(52225), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 4`,
			[]ev{{20961, "sendto", "inet6", "[::1]:52225", "4", false}}},
		{"sendmsg with no name",
			`21152 sendmsg(5, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="abc", iov_len=3}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 3`,
			nil},
		{"sendmsg with a name",
			`20962 sendmsg(4, {msg_name={sa_family=AF_INET, sin_port=htons(52225), sin_addr=inet_addr("127.0.0.1")}, msg_namelen=16, msg_iov=[{iov_base="msg_name={sa_family=AF_INET6", iov_len=2}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 2`,
			[]ev{{20962, "sendmsg", "inet", "127.0.0.1:52225", "2", false}}},
		{"sendmmsg, two messages",
			`9 sendmmsg(3, [{msg_hdr={msg_name={sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("8.8.8.8")}, msg_namelen=16, msg_iov=[{iov_base="x", iov_len=1}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, msg_len=1}, {msg_hdr={msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="msg_name=", iov_len=9}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, msg_len=9}], 2, MSG_NOSIGNAL) = 2`,
			[]ev{{9, "sendmmsg", "inet", "8.8.8.8:53", "2", false}}},
		{"sendmmsg, nothing",
			`9 sendmmsg(3, [], 0, 0) = 0`,
			nil},
		{"a call split by another thread's",
			"100 connect(3, {sa_family=AF_INET, sin_port=htons(9050), sin_addr=inet_addr(\"127.0.0.1\")}, 16 <unfinished ...>\n" +
				"101 bind(5, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = 0\n" +
				"100 <... connect resumed>) = 0",
			[]ev{{101, "bind", "inet", "127.0.0.1:0", "0", false}, {100, "connect", "inet", "127.0.0.1:9050", "0", false}}},
		{"sendmsg split after its message",
			"100 sendmsg(4, {msg_name={sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr(\"192.0.2.1\")}, msg_namelen=16, msg_iov=[{iov_base=\"x\", iov_len=1}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0 <unfinished ...>\n" +
				"100 <... sendmsg resumed>) = 1",
			[]ev{{100, "sendmsg", "inet", "192.0.2.1:9", "1", false}}},
		{"the end of a call without its start",
			`100 <... connect resumed>) = 0`,
			[]ev{{100, "connect", "", "", "", true}}},
		{"a call never finished",
			"100 connect(3, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr(\"9.9.9.9\")}, 16 <unfinished ...>\n" +
				"101 +++ killed by SIGKILL +++",
			[]ev{{100, "connect", "inet", "9.9.9.9:53", "<unfinished>", false}}},
		{"a process killed in the call",
			`100 connect(3, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("192.0.2.7")}, 16) = ?`,
			[]ev{{100, "connect", "inet", "192.0.2.7:80", "?", false}}},
		{"strace's own standard error form",
			`[pid  4242] connect(3, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("192.0.2.8")}, 16) = 0`,
			[]ev{{4242, "connect", "inet", "192.0.2.8:80", "0", false}}},
		{"no thread ID (strace without -f)",
			`connect(3, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("192.0.2.9")}, 16) = 0`,
			[]ev{{0, "connect", "inet", "192.0.2.9:80", "0", false}}},
		{"signals, exits and other calls are skipped",
			"7 --- SIGURG {si_signo=SIGURG, si_code=SI_TKILL, si_pid=7, si_uid=0} ---\n" +
				"7 +++ exited with 0 +++\n" +
				"7 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 3\n" +
				"\n",
			nil},
		{"an address given as a pointer",
			`7 connect(3, 0x7ffd5c3a1b20, 16) = -1 EFAULT (Bad address)`,
			[]ev{{7, "connect", "", "", "-1 EFAULT (Bad address)", true}}},
		{"an inet address cut short",
			`7 connect(3, {sa_family=AF_INET, sa_data="\0P\300\0\2\1"}, 8) = -1 EINVAL (Invalid argument)`,
			[]ev{{7, "connect", "inet", "", "-1 EINVAL (Invalid argument)", true}}},
		{"a line cut off",
			`7 connect(3, {sa_family=AF_INET, sin_po`,
			[]ev{{7, "connect", "", "", "", true}}},
		{"a mangled line that names an inet address",
			`7 ??? {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("9.9.9.9")}`,
			[]ev{{7, "", "", "", "", true}}},
		{"a line that is no call but names one",
			`7 9connect(3, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("9.9.9.9")}, 16) = 0`,
			[]ev{{7, "connect", "", "", "", true}}},
		{"an unknown family",
			`7 connect(3, {sa_family=AF_PACKET, sll_protocol=htons(ETH_P_ALL), sll_ifindex=if_nametoindex("eth0")}, 20) = 0`,
			[]ev{{7, "connect", "packet", `sll_protocol=htons(ETH_P_ALL), sll_ifindex=if_nametoindex("eth0")`, "0", false}}},
		{"an unknown inet-like family",
			`7 connect(3, {sa_family=AF_INET7, x=1}, 20) = 0`,
			[]ev{{7, "connect", "inet7", "", "0", true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if s := strip(got); !reflect.DeepEqual(s, tc.want) {
				t.Errorf("got  %+v\nwant %+v", s, tc.want)
			}
			for _, e := range got {
				if e.Line == "" {
					t.Errorf("event %v has no line", e)
				}
			}
		})
	}
}

func TestAddrPort(t *testing.T) {
	for _, tc := range []struct {
		e    Event
		want string
	}{
		{Event{Family: "inet", Addr: "127.0.0.1:9050"}, "127.0.0.1:9050"},
		{Event{Family: "inet6", Addr: "[::ffff:127.0.0.1]:9050"}, "127.0.0.1:9050"},
		{Event{Family: "inet6", Addr: "[::1]:1"}, "[::1]:1"},
		{Event{Family: "unix", Addr: "/x"}, ""},
		{Event{Family: "inet", Addr: "127.0.0.1:9050", Unparsed: true}, ""},
	} {
		ap, ok := tc.e.AddrPort()
		got := ""
		if ok {
			got = ap.String()
		}
		if got != tc.want {
			t.Errorf("%+v: AddrPort = %q, want %q", tc.e, got, tc.want)
		}
	}
}

func TestCheckFailsClosed(t *testing.T) {
	events := []Event{
		{Syscall: "connect", Family: "inet", Addr: "127.0.0.1:9050"},
		{Syscall: "connect", Family: "inet", Addr: "192.0.2.1:53"},
		{Syscall: "connect", Unparsed: true, Line: "connect(3, 0x1, 16) = 0"},
	}
	loopback := func(e Event) bool {
		ap, ok := e.AddrPort()
		return ok && ap.Addr().IsLoopback()
	}
	if v := Check(events, loopback); len(v) != 2 || v[0].Addr != "192.0.2.1:53" || !v[1].Unparsed {
		t.Errorf("Check = %v", v)
	}
	if v := Check(events, func(Event) bool { return true }); len(v) != 1 || !v[0].Unparsed {
		t.Errorf("Check allowing everything = %v, want the unparsed event", v)
	}
	var many []Event
	for i := range 100 {
		many = append(many, Event{PID: i, Syscall: "connect", Family: "inet", Addr: netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), uint16(i)).String()})
	}
	s := Format(many)
	if !strings.HasPrefix(s, "100 network operation(s) not allowed:") || !strings.Contains(s, "and 60 more") ||
		!strings.Contains(s, `pid 3: connect inet "192.0.2.1:3" = `) || strings.Contains(s, "192.0.2.1:40\"") {
		t.Errorf("Format:\n%s", s)
	}
}

// FuzzParse: no input makes Parse panic, and an input that names an inet
// address in a traced call yields at least one event.
func FuzzParse(f *testing.F) {
	f.Add(`1 connect(3, {sa_family=AF_INET, sin_port=htons(9050), sin_addr=inet_addr("127.0.0.1")}, 16) = 0`)
	f.Add("1 sendmsg(4, {msg_name={sa_family=AF_INET6, sin6_port=htons(1), inet_pton(AF_INET6, \"::1\", &sin6_addr)}}, 0 <unfinished ...>\n1 <... sendmsg resumed>) = 1")
	f.Add(`1 sendmmsg(3, [{msg_hdr={msg_name={sa_family=AF_UNIX, sun_path=@"x\0"}}}], 1, 0) = 1`)
	f.Fuzz(func(t *testing.T, in string) {
		events, err := Parse(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(in, "connect(") && strings.Contains(in, "AF_INET") && !strings.Contains(in, "\n") && len(events) == 0 {
			// One line that names connect and AF_INET: either a connect
			// or (if it is another call's line) nothing dangerous.
			if name := callName(strings.TrimLeft(strings.TrimLeft(in, "0123456789"), " ")); name == "connect" {
				t.Errorf("no event from %q", in)
			}
		}
		_ = fmt.Sprint(events)
	})
}
