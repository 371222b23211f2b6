package foolscap

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// ans wraps a value's bytes in an answer to request 1 (OPEN#0).
func ans(v ...any) []byte {
	return cat(x("00 88 0d 87 01 81"), cat(v...), x("00 89"))
}

// callHead starts a call (OPEN#0) of method m on clid 0, request 1.
func callHead(m string) []byte {
	return cat(x("00 88 0b 87 01 81 00 81"), b128(len(m)), x("82"), m)
}

// nested returns n lists nested in each other, numbered from first.
func nested(n, first int) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b, b128(first+i)...)
		b = append(b, x("88 04 87")...)
	}
	for i := n - 1; i >= 0; i-- {
		b = append(b, b128(first+i)...)
		b = append(b, 0x89)
	}
	return b
}

type hostileCase struct {
	name   string
	in     []byte
	limits Limits
	want   string // in the error
	eof    bool   // the message is cut short: io.ErrUnexpectedEOF (io.EOF between tokens)
}

func hostileCases() []hostileCase {
	var many []byte
	for i := 0; i < 20; i++ {
		many = append(many, x("01 81")...)
	}
	otherFURL := "pb://" + strings.Repeat("a", 32) + "@tcp:h:1/x"
	return []hostileCase{
		{name: "oversize string header", in: ans(b128(1<<20+1), x("82")), want: "string of 1048577 bytes"},
		{name: "string over a set limit", in: ans(x("0b 82"), "hello world"), limits: Limits{MaxString: 10}, want: "string of 11"},
		{name: "huge string header", in: ans(x("7f 7f 7f 7f 7f 7f 7f 7f 7f 82")), want: "string of"},
		{name: "nesting beyond MaxDepth", in: ans(nested(40, 1)), want: "nested deeper than 32"},
		{name: "nesting beyond a set depth", in: ans(nested(3, 1)), limits: Limits{MaxDepth: 3}, want: "nested deeper than 3"},
		{name: "arguments nested beyond a set depth", in: cat(callHead("m"), x("01 88 0c 87 01 81"), nested(2, 2), x("01 89 00 89")), limits: Limits{MaxDepth: 3}, want: "nested deeper than 3"},
		{name: "more items than MaxItems", in: ans(x("01 88 04 87"), many, x("01 89")), limits: Limits{MaxItems: 10}, want: "more than 10 values"},
		{name: "one item too many", in: ans(x("01 88 04 87"), many[:18], x("01 89")), limits: Limits{MaxItems: 10}, want: "more than 10 values"},
		{name: "message over MaxMessage", in: ans(x("01 88 04 87"), many, x("01 89")), limits: Limits{MaxMessage: 30}, want: "message longer than 30"},
		{name: "string body over MaxMessage", in: ans(x("28 82"), strings.Repeat("s", 40)), limits: Limits{MaxMessage: 30}, want: "message longer than 30"},
		{name: "top-level list", in: x("00 88 04 87 00 89"), want: `top-level sequence "list"`},
		{name: "top-level set-vocab", in: x("00 88 09 87 00 89"), want: `top-level sequence "set-vocab"`},
		{name: "top-level string opentype", in: cat(x("00 88 04 82"), "dict", x("00 89")), want: `top-level sequence "dict"`},
		{name: "top-level INT", in: x("01 81"), want: "not OPEN"},
		{name: "top-level CLOSE", in: x("00 89"), want: "not OPEN"},
		{name: "CLOSE number mismatch", in: x("00 88 0d 87 01 81 01 88 00 87 01 89 05 89"), want: "lost sync: CLOSE(5) for OPEN(0)"},
		{name: "inner CLOSE mismatch", in: ans(x("01 88 04 87 02 89")), want: "lost sync"},
		{name: "arguments CLOSE mismatch", in: cat(callHead("m"), x("01 88 0c 87 00 81 07 89 00 89")), want: "lost sync"},
		{name: "ABORT", in: ans(x("01 88 04 87 01 8a")), want: "ABORT"},
		{name: "ERROR token", in: cat(x("05 8d"), "oops!"), want: `reported an error and hangs up: "oops!"`},
		{name: "long ERROR token", in: cat(b128(1001), x("8d")), want: "ERROR token of 1001"},
		{name: "old LIST token", in: x("00 80"), want: "LIST"},
		{name: "unknown token 0x85", in: x("85"), want: "unknown token type 0x85"},
		{name: "unknown token 0x86", in: ans(x("86")), want: "unknown token type 0x86"},
		{name: "unknown token 0x90", in: x("01 90"), want: "unknown token type 0x90"},
		{name: "unknown token 0xff", in: ans(x("ff")), want: "unknown token type 0xff"},
		{name: "header longer than 9 bytes", in: cat(bytes.Repeat(x("01"), 10), x("81")), want: "header longer than 9"},
		{name: "long header in a message", in: ans(bytes.Repeat(x("00"), 64), x("81")), want: "header longer than 9"},
		{name: "VOCAB outside the table", in: ans(x("19 87")), want: "VOCAB(25)"},
		{name: "opentype VOCAB outside the table", in: x("00 88 7f 87"), want: "VOCAB(127)"},
		{name: "opentype too long", in: cat(x("00 88 10 82"), "their-referencex"), want: "opentype of 16 bytes"},
		{name: "opentype not a string", in: x("00 88 00 81"), want: "opentype token 0x81"},
		{name: "long integer of 65 bytes", in: ans(x("41 8b"), bytes.Repeat(x("01"), 65)), want: "long integer of 65"},
		{name: "dict with an odd number of items", in: ans(x("01 88 03 87 01 81 01 89")), want: "odd"},
		{name: "dict with a key twice", in: ans(x("01 88 03 87 01 82"), "k", x("01 81 01 82"), "k", x("02 81 01 89")), want: "key twice"},
		{name: "dict with a key as VOCAB and STRING", in: ans(x("01 88 03 87 04 87 01 81 04 82"), "list", x("02 81 01 89")), want: "key twice"},
		{name: "dict keyed by a list", in: ans(x("01 88 03 87 02 88 04 87 02 89 01 81 01 89")), want: "dict key of type"},
		{name: "boolean 2", in: ans(x("01 88 01 87 02 81 01 89")), want: "boolean"},
		{name: "empty boolean", in: ans(x("01 88 01 87 01 89")), want: "boolean with 0 items"},
		{name: "none with an item", in: ans(x("01 88 00 87 01 81 01 89")), want: "none with 1 items"},
		{name: "unicode not UTF-8", in: ans(x("01 88 08 87 01 82 ff 01 89")), want: "UTF-8"},
		{name: "unicode of an INT", in: ans(x("01 88 08 87 01 81 01 89")), want: "UTF-8"},
		{name: "their-reference", in: ans(x("01 88 11 87 01 81 05 82"), "pb://", x("01 89")), want: "gifts"},
		{name: "copyable of another class", in: ans(x("01 88 12 87 03 82"), "foo", x("01 89")), want: `class "foo"`},
		{name: "copyable with a dangling attribute", in: ans(x("01 88 12 87 1e 82"), failureClass, x("04 82"), "type", x("01 89")), want: "copyable with 2 items"},
		{name: "my-reference with clid 0", in: ans(x("01 88 0f 87 00 81 01 89")), want: "clid 0"},
		{name: "my-reference with a negative clid", in: ans(x("01 88 0f 87 01 83 01 89")), want: "clid -1"},
		{name: "my-reference with four items", in: ans(x("01 88 0f 87 01 81 00 82 00 82 00 82 01 89")), want: "my-reference with 4 items"},
		{name: "my-reference with a foreign fURL", in: ans(x("01 88 0f 87 01 81 00 82"), b128(len(otherFURL)), x("82"), otherFURL, x("01 89")), want: "another tub"},
		{name: "my-reference with an INT interface", in: ans(x("01 88 0f 87 01 81 00 81 01 89")), want: "interface"},
		{name: "your-reference we never sent", in: ans(x("01 88 10 87 05 81 01 89")), want: "never sent"},
		{name: "reference to nothing", in: ans(x("01 88 02 87 07 81 01 89")), want: "no finished container"},
		{name: "reference to an open container", in: ans(x("01 88 04 87 02 88 02 87 01 81 02 89 01 89")), want: "no finished container"},
		{name: "instance", in: ans(x("01 88 13 87 01 89")), want: `unsupported sequence type "instance"`},
		{name: "too few positional arguments", in: cat(callHead("m"), x("01 88 0c 87 02 81 01 81 01 89 00 89")), want: "1 positional, announced 2"},
		{name: "keyword without a value", in: cat(callHead("m"), x("01 88 0c 87 00 81 01 82"), "k", x("01 89 00 89")), want: "without a value"},
		{name: "keyword twice", in: cat(callHead("m"), x("01 88 0c 87 00 81 01 82"), "k", x("01 81 01 82"), "k", x("02 81 01 89 00 89")), want: `keyword "k" twice`},
		{name: "keyword of an INT", in: cat(callHead("m"), x("01 88 0c 87 00 81 05 81 06 81 01 89 00 89")), want: "keyword is a int64"},
		{name: "argument count not an INT", in: cat(callHead("m"), x("01 88 0c 87 01 82"), "x", x("01 89 00 89")), want: "count is not an INT"},
		{name: "call without arguments", in: cat(callHead("m"), x("01 88 04 87 01 89 00 89")), want: "not arguments"},
		{name: "answer with five items", in: ans(x("01 81 02 81 03 81 04 81")), want: "answer with 5 items"},
		{name: "cut in a header", in: x("00 88 0d 87 01"), eof: true},
		{name: "cut in a string", in: ans(x("05 82 61")), eof: true},
		{name: "cut in a float", in: x("00 88 0d 87 01 81 84 3f"), eof: true},
		{name: "cut before CLOSE", in: x("00 88 0d 87 01 81 01 81"), eof: true},
	}
}

// TestDecodeHostile feeds the decoder bad Banana: each gives an error,
// never a panic or a hang.
func TestDecodeHostile(t *testing.T) {
	tub := newTestTub(t)
	for _, c := range hostileCases() {
		d, _ := testDecoder(t, tub, introTubID, c.in, c.limits)
		m, err := d.readMessage()
		switch {
		case err == nil:
			t.Errorf("%s: decoded %+v", c.name, m)
		case c.eof:
			if !errors.Is(err, io.ErrUnexpectedEOF) && err != io.EOF {
				t.Errorf("%s: %v, want io.ErrUnexpectedEOF", c.name, err)
			}
		case !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: %v, want ErrProtocol with %q", c.name, err, c.want)
		}
	}
}

// TestDecodeLimitsHold: a message just within every limit decodes.
func TestDecodeLimitsHold(t *testing.T) {
	tub := newTestTub(t)
	var eight []byte
	for i := 0; i < 8; i++ {
		eight = append(eight, x("01 81")...)
	}
	for _, c := range []struct {
		name   string
		in     []byte
		limits Limits
	}{
		// The answer, a list and a list: three deep.
		{"depth", ans(nested(2, 1)), Limits{MaxDepth: 3}},
		{"default depth", ans(nested(31, 1)), Limits{}},
		{"arguments depth", cat(callHead("m"), x("01 88 0c 87 01 81"), nested(1, 2), x("01 89 00 89")), Limits{MaxDepth: 3}},
		// The request ID, the list and eight INTs.
		{"items", ans(x("01 88 04 87"), eight, x("01 89")), Limits{MaxItems: 10}},
		{"string", ans(x("0a 82"), "0123456789"), Limits{MaxString: 10}},
		{"message", ans(x("0a 82"), "0123456789"), Limits{MaxMessage: 22}},
	} {
		d, _ := testDecoder(t, tub, introTubID, c.in, c.limits)
		if _, err := d.readMessage(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// TestDecodeReferences: "reference" shares a finished container, and
// references to references cannot stand for more values than MaxItems.
func TestDecodeReferences(t *testing.T) {
	tub := newTestTub(t)
	// answer 1 [[1, 2], reference(2)]
	in := ans(x("01 88 04 87 02 88 04 87 01 81 02 81 02 89 03 88 02 87 02 81 03 89 01 89"))
	d, _ := testDecoder(t, tub, introTubID, in, Limits{})
	m, err := d.readMessage()
	if err != nil {
		t.Fatal(err)
	}
	l, ok := m.items[1].(List)
	if !ok || len(l) != 2 || !valueEqual(l[0], List{int64(1), int64(2)}) || !valueEqual(l[1], l[0]) {
		t.Fatalf("decoded %#v", m.items[1])
	}

	// A bomb: each list holds two references to the one before, so the
	// last of 40 stands for 2^40 values.
	e := &encoder{}
	top := e.open("answer")
	e.int(1)
	outer := e.open("list")
	prev := e.open("list")
	e.int(0)
	e.int(0)
	e.close(prev)
	for i := 0; i < 40; i++ {
		n := e.open("list")
		for j := 0; j < 2; j++ {
			r := e.open("reference")
			e.int(int64(prev))
			e.close(r)
		}
		e.close(n)
		prev = n
	}
	e.close(outer)
	e.close(top)
	d, _ = testDecoder(t, tub, introTubID, e.buf, Limits{})
	if m, err := d.readMessage(); !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("a reference bomb of %d bytes decoded: %v, %v", len(e.buf), m != nil, err)
	}
}

// TestHostileBananaOverTheWire sends each bad message to a tub: it drops
// the connection, and goes on serving others.
func TestHostileBananaOverTheWire(t *testing.T) {
	for _, c := range hostileCases() {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			server := newTestTub(t, WithLimits(c.limits))
			srv := serveTub(t, server)
			p := mustDialRaw(t, srv.addr, server, rawOpts{})
			p.send(t, c.in)
			if c.eof {
				p.tc.CloseWrite()
			}
			p.expectClosed(t)
			if c.limits != (Limits{}) {
				return // such limits stop a Dial too
			}
			client := newTestTub(t)
			ref, err := client.Dial(testCtx(t), srv.furl)
			if err != nil {
				t.Fatal(err)
			}
			alive(t, ref)
		})
	}
}

// TestHostileMessagesOverTheWire: messages that decode but make no sense
// on a connection drop it.
func TestHostileMessagesOverTheWire(t *testing.T) {
	none := x("01 88 00 87 01 89")
	for _, c := range []struct {
		name string
		in   []byte
	}{
		{"answer for a request never made", cat(x("00 88 0d 87 05 81"), none, x("00 89"))},
		{"answer for request 0", cat(x("00 88 0d 87 00 81"), none, x("00 89"))},
		{"answer for request -1", cat(x("00 88 0d 87 01 83"), none, x("00 89"))},
		{"error for a request never made", cat(x("00 88 0e 87 01 81"), none, x("00 89"))},
		{"answer without a value", x("00 88 0d 87 01 81 00 89")},
		{"call with a negative request", cat(x("00 88 0b 87 01 83 00 81 01 82"), "m", x("01 88 0c 87 00 81 01 89 00 89"))},
		{"call to a clid of bytes", cat(x("00 88 0b 87 01 81 01 82"), "x", x("01 82"), "m", x("01 88 0c 87 00 81 01 89 00 89"))},
		{"call of a method of an INT", cat(x("00 88 0b 87 01 81 00 81 05 81 01 88 0c 87 00 81 01 89 00 89"))},
		{"call with three items", cat(x("00 88 0b 87 01 81 00 81 01 82"), "m", x("00 89"))},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			server := newTestTub(t)
			srv := serveTub(t, server)
			p := mustDialRaw(t, srv.addr, server, rawOpts{})
			p.send(t, c.in)
			p.expectClosed(t)
		})
	}
}

// TestRawCallsAreServed: a hand-made peer's calls are answered, errors
// included, with its request IDs.
func TestRawCallsAreServed(t *testing.T) {
	server := newTestTub(t)
	srv := serveTub(t, server)
	p := mustDialRaw(t, srv.addr, server, rawOpts{master: 1})
	p.call(t, 7, 0, "no_such_method")
	p.call(t, 8, 3, "x")
	for _, want := range []string{"no_such_method", "no object 3"} {
		m, err := p.dec.readMessage()
		if err != nil || m.kind != "error" || len(m.items) != 2 {
			t.Fatalf("%+v, %v", m, err)
		}
		f, ok := m.items[1].(*Failure)
		if !ok || f.Type != "foolscap.tokens.Violation" || !strings.Contains(f.Value, want) || len(f.Parents) == 0 {
			t.Fatalf("error %#v", m.items[1])
		}
	}
}

// TestNegotiationHostile: bad upgrade requests get a 500 or a hang-up.
func TestNegotiationHostile(t *testing.T) {
	server := newTestTub(t)
	srv := serveTub(t, server)
	for _, c := range []struct {
		name, req string
		want      string // the start of the answer
	}{
		{"POST", "POST /id/" + server.TubID() + " HTTP/1.1\r\nUpgrade: TLS/1.0\r\n\r\n", "HTTP/1.1 500 "},
		{"not /id/", "GET /foo HTTP/1.1\r\nUpgrade: TLS/1.0\r\n\r\n", "HTTP/1.1 500 "},
		{"extra words", "GET /id/" + server.TubID() + " HTTP/1.1 x\r\nUpgrade: TLS/1.0\r\n\r\n", "HTTP/1.1 500 "},
		{"garbage", "hello\r\n\r\n", "HTTP/1.1 500 "},
		{"unknown tub", "GET /id/" + strings.Repeat("a", 32) + " HTTP/1.1\r\nUpgrade: TLS/1.0\r\n\r\n", "HTTP/1.1 500 Internal Server Error: unknown TubID"},
		{"no upgrade", "GET /id/" + server.TubID() + " HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 500 "},
		{"block over 4096 bytes", "GET /id/" + server.TubID() + " HTTP/1.1\r\nX-Pad: " + strings.Repeat("a", 5000) + "\r\n\r\n", ""},
		{"cut short", "GET /id/", ""},
	} {
		nc, err := net.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(nc, c.req)
		if c.name == "cut short" {
			nc.(*net.TCPConn).CloseWrite()
		}
		got, err := io.ReadAll(nc)
		nc.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s: the tub did not hang up", c.name)
			continue
		}
		if !strings.HasPrefix(string(got), c.want) || (c.want == "" && len(got) > 0) {
			t.Errorf("%s: answered %q, want %q", c.name, got, c.want)
		}
	}
	// The tub still serves.
	client := newTestTub(t)
	ref, err := client.Dial(testCtx(t), srv.furl)
	if err != nil {
		t.Fatal(err)
	}
	alive(t, ref)
}

// TestNegotiationHostileTLS: bad hellos and decisions are refused with an
// error block, and the tub hangs up.
func TestNegotiationHostileTLS(t *testing.T) {
	for _, c := range []struct {
		name string
		o    rawOpts
		want string // in the refusal or in what ServeConn returned
	}{
		{"hello with another tub ID", rawOpts{master: -1, hello: func(h map[string]string) { h["my-tub-id"] = strings.Repeat("a", 32) }}, "claims tub"},
		{"hello with another tub ID, deciding", rawOpts{master: 1, hello: func(h map[string]string) { h["my-tub-id"] = strings.Repeat("a", 32) }}, "claims tub"},
		{"hello without a tub ID", rawOpts{master: -1, hello: func(h map[string]string) { delete(h, "my-tub-id") }}, "claims tub"},
		{"hello with an error", rawOpts{master: -1, hello: func(h map[string]string) { h["error"] = "go away" }}, "go away"},
		{"banana versions 1 2", rawOpts{master: -1, hello: func(h map[string]string) { h["banana-negotiation-range"] = "1 2" }}, "banana version"},
		{"no banana range", rawOpts{master: 1, hello: func(h map[string]string) { delete(h, "banana-negotiation-range") }}, "banana version"},
		{"vocab tables 0 0", rawOpts{master: -1, hello: func(h map[string]string) { h["initial-vocab-table-range"] = "0 0" }}, "vocab table"},
		{"hello over 4096 bytes", rawOpts{hello: func(h map[string]string) { h["x-pad"] = strings.Repeat("p", 5000) }}, "longer than 4096"},
		{"hello line without a colon", rawOpts{hello: func(h map[string]string) { h["x-bad\r\nno colon here"] = "1" }}, "no ':'"},
		{"decision with the wrong vocab hash", rawOpts{master: 1, decision: func(d map[string]string) { d["initial-vocab-table-index"] = "1 ffff" }}, "vocab table"},
		{"decision with vocab table 0", rawOpts{master: 1, decision: func(d map[string]string) { d["initial-vocab-table-index"] = "0 " + vocabHash }}, "vocab table"},
		{"decision of version 2", rawOpts{master: 1, decision: func(d map[string]string) { d["banana-decision-version"] = "2" }}, "banana version"},
		{"decision with an error", rawOpts{master: 1, decision: func(d map[string]string) { d["error"] = "duplicate connection" }}, "duplicate connection"},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			server := newTestTub(t)
			srv := serveTub(t, server)
			p, err := dialRaw(t, srv.addr, server, c.o)
			var rest []byte
			if p != nil {
				rest = p.expectClosed(t)
			}
			select {
			case serr := <-srv.errs:
				if !errors.Is(serr, ErrProtocol) || !strings.Contains(serr.Error(), c.want) {
					t.Errorf("ServeConn: %v, want %q", serr, c.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("ServeConn did not fail (raw side: %v)", err)
			}
			if c.o.master < 0 && c.o.hello != nil && !strings.Contains(c.name, "error") {
				// The tub told us why in its decision's place.
				if err == nil || !strings.Contains(err.Error(), "refused") {
					t.Errorf("raw side: %v, %q", err, rest)
				}
			}
			// No connection was adopted.
			server.mu.Lock()
			n := len(server.all)
			server.mu.Unlock()
			if n != 0 {
				t.Errorf("%d connections adopted", n)
			}
		})
	}
}

// TestNegotiationNoClientCert: a client without a certificate fails TLS.
func TestNegotiationNoClientCert(t *testing.T) {
	server := newTestTub(t)
	srv := serveTub(t, server)
	nc, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(nc, "GET /id/%s HTTP/1.1\r\nUpgrade: TLS/1.0\r\nConnection: Upgrade\r\n\r\n", server.TubID())
	if _, err := readBlock(byteReader{nc}); err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(nc, &tls.Config{InsecureSkipVerify: true})
	err = tc.Handshake()
	if err == nil {
		_, err = tc.Read(make([]byte, 1))
	}
	if err == nil {
		t.Fatal("TLS without a client certificate worked")
	}
	select {
	case serr := <-srv.errs:
		if !strings.Contains(serr.Error(), "TLS") {
			t.Errorf("ServeConn: %v", serr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeConn did not fail")
	}
}

// rawServerOpts shapes a hand-made server's negotiation.
type rawServerOpts struct {
	master   bool   // the raw server decides
	upgrade  string // the answer to the upgrade request, if not the right one
	wrongTLS bool   // present a certificate that is not the fURL's tub
	hello    func(map[string]string)
	decision func(map[string]string)
}

// rawServe serves one connection by hand, for client's Dial, and returns
// a fURL of it.
func rawServe(t testing.TB, client *Tub, o rawServerOpts) string {
	t.Helper()
	var cert tls.Certificate
	var id string
	for {
		cert = testCert(t, false)
		id = TubIDOf(cert.Certificate[0])
		if (id > client.TubID()) == o.master {
			break
		}
	}
	shown := cert
	if o.wrongTLS {
		shown = testCert(t, false)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := readBlock(byteReader{nc}); err != nil {
			return
		}
		if o.upgrade != "" {
			io.WriteString(nc, o.upgrade)
			io.Copy(io.Discard, nc)
			return
		}
		io.WriteString(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: TLS/1.0, PB/1.0\r\nConnection: Upgrade\r\n\r\n")
		tc := tls.Server(nc, &tls.Config{Certificates: []tls.Certificate{shown}, ClientAuth: tls.RequireAnyClientCert})
		if err := tc.Handshake(); err != nil {
			return
		}
		hello := map[string]string{
			"banana-negotiation-range":  "3 3",
			"initial-vocab-table-range": "0 1",
			"my-incarnation":            "fedcba9876543210",
			"my-tub-id":                 id,
		}
		if o.hello != nil {
			o.hello(hello)
		}
		tc.Write(formatBlock(hello))
		br := byteReader{tc}
		if _, err := readBlock(br); err != nil {
			return
		}
		if o.master {
			d := map[string]string{
				"banana-decision-version":   "3",
				"current-connection":        "fedcba9876543210 1",
				"initial-vocab-table-index": "1 " + vocabHash,
			}
			if o.decision != nil {
				o.decision(d)
			}
			tc.Write(formatBlock(d))
		}
		io.Copy(io.Discard, tc)
	}()
	return "pb://" + id + "@tcp:" + ln.Addr().String() + "/name"
}

// TestClientNegotiationHostile: Dial refuses servers that break the
// negotiation, promptly.
func TestClientNegotiationHostile(t *testing.T) {
	for _, c := range []struct {
		name string
		o    rawServerOpts
		want string
	}{
		{"500", rawServerOpts{upgrade: "HTTP/1.1 500 Internal Server Error: nope\r\n\r\n"}, "refused the connection"},
		{"101 without TLS", rawServerOpts{upgrade: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: PB/1.0\r\n\r\n"}, "does not switch to TLS"},
		{"answer over 4096 bytes", rawServerOpts{upgrade: "HTTP/1.1 101 Switching Protocols\r\nX: " + strings.Repeat("x", 5000)}, "longer than 4096"},
		{"another tub's certificate", rawServerOpts{wrongTLS: true}, "certificate is of tub"},
		{"hello of another tub", rawServerOpts{hello: func(h map[string]string) { h["my-tub-id"] = strings.Repeat("b", 32) }}, "claims tub"},
		{"refusing hello", rawServerOpts{hello: func(h map[string]string) { h["error"] = "not today" }}, "not today"},
		{"wrong vocab hash", rawServerOpts{master: true, decision: func(d map[string]string) { d["initial-vocab-table-index"] = "1 0000" }}, "vocab table"},
		{"refusing decision", rawServerOpts{master: true, decision: func(d map[string]string) { d["error"] = "duplicate" }}, "duplicate"},
		{"old banana", rawServerOpts{hello: func(h map[string]string) { h["banana-negotiation-range"] = "2 2" }}, "banana version"},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			client := newTestTub(t)
			furl := rawServe(t, client, c.o)
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			defer cancel()
			_, err := client.Dial(ctx, furl)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Dial: %v, want %q", err, c.want)
			}
			if ctx.Err() != nil {
				t.Fatal("Dial failed only by its deadline")
			}
			if strings.Contains(err.Error(), "/name") {
				t.Errorf("the error shows the swissnum: %v", err)
			}
		})
	}
}

// TestDialErrors: fURLs that cannot be dialled fail at once.
func TestDialErrors(t *testing.T) {
	client := newTestTub(t)
	ctx := testCtx(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	for _, c := range []struct{ furl, want string }{
		{"http://x", "not a fURL"},
		{"pb://" + client.TubID() + "@tcp:127.0.0.1:1/x", "own fURL"},
		{"pb://" + strings.Repeat("a", 32) + "@/x", "no tcp, onion or I2P connection hint"},
		{"pb://" + strings.Repeat("a", 32) + "@tor:x.onion:80,i2p:y/x", "no tcp, onion or I2P connection hint"},
		{"pb://" + strings.Repeat("a", 32) + "@tcp:" + dead + "/x", "connecting to tub"},
	} {
		if _, err := client.Dial(ctx, c.furl); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Dial(%s): %v, want %q", c.furl, err, c.want)
		}
	}
	// One bad hint among good ones does not matter.
	server := newTestTub(t)
	srv := serveTub(t, server)
	f, _ := ParseFURL(srv.furl)
	f.Hints = append([]string{"tcp:" + dead, "tor:abc.onion:1"}, f.Hints...)
	ref, err := client.Dial(ctx, f.String())
	if err != nil {
		t.Fatal(err)
	}
	alive(t, ref)
	// A closed tub dials nothing.
	client.Close()
	if _, err := client.Dial(ctx, srv.furl); !errors.Is(err, ErrClosed) {
		t.Errorf("Dial on a closed tub: %v", err)
	}
	if _, err := ref.Call(ctx, "x"); !errors.Is(err, ErrClosed) {
		t.Errorf("a call on a closed tub: %v", err)
	}
}
