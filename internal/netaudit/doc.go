// Package netaudit runs a command under strace and reports every socket
// address it used: each connect and bind, and each send to an explicit
// address (a UDP datagram, a DNS query), whether the call succeeded or not.
// Tests use it to prove that a node which must not reveal its IP address
// (Tahoe's reveal-IP-address = false, docs/anonymity-configuration.rst)
// only ever talks to its Tor, and to nothing else.
//
// Unlike a look at the sockets a process has open at some moment (ss,
// /proc/net), a trace sees every attempt: a connection refused at once, a
// DNS query sent and forgotten, a short-lived socket between two looks.
// Whatever strace prints for those calls that the parser cannot read is
// reported as a violation, so that the audit fails closed.
//
// strace (Debian: apt-get install strace) must be installed and ptrace
// allowed; otherwise [Wrap] skips the test, or fails it when
// LAFS_REQUIRE_TOR=1 (the setting under which the Tor tests must run).
package netaudit
