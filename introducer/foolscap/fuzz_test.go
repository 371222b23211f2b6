package foolscap

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// hasRefs reports whether v holds a reference or a Failure, which do not
// round-trip without a connection.
func hasRefs(v any) bool {
	switch v := v.(type) {
	case *RemoteRef, Object, *Failure:
		return true
	case List:
		return anyRefs(v)
	case Tuple:
		return anyRefs(v)
	case Set:
		return anyRefs(v)
	case Dict:
		for _, it := range v {
			if hasRefs(it.Key) || hasRefs(it.Value) {
				return true
			}
		}
	}
	return false
}

func anyRefs(vs []any) bool {
	for _, v := range vs {
		if hasRefs(v) {
			return true
		}
	}
	return false
}

// FuzzDecodeMessage feeds arbitrary bytes to the decoder of a connection
// that is not connected. Whatever arrives must give messages or an error
// (never a panic or a hang), and every value decoded must encode and
// decode to itself.
func FuzzDecodeMessage(f *testing.F) {
	ann, _ := capAnnounce()
	for _, seed := range [][]byte{
		capGetRef, capGetRefAnswer, capGetVersion, capGetVersionAnswer, capSubscribe,
		ann, capAnnounceAnswer, capSubscribeAnswer,
		cat(capGetRefAnswer, capGetVersionAnswer, x("8e 05 8e 8f"), capSubscribeAnswer),
		ans(x("01 88 04 87 02 88 04 87 01 81 02 81 02 89 03 88 02 87 02 81 03 89 01 89")),
		ans(x("01 88 10 87 01 81 01 89")), // your-reference to our clid 1
		ans(x("04 8c 80 00 00 01 84 3f f8 00 00 00 00 00 00")),
	} {
		f.Add(seed)
	}
	for _, c := range hostileCases() {
		f.Add(c.in)
	}
	tub := newTestTub(f)
	limits := Limits{MaxMessage: 1 << 20, MaxString: 1 << 16, MaxItems: 1 << 14, MaxDepth: 32}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, _ := testDecoder(t, tub, introTubID, b, limits)
		d.conn.export(&echo{iface: "RIFuzz"}) // clid 1, for your-reference
		for i := 0; i < 100; i++ {
			m, err := d.readMessage()
			if err != nil {
				if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrProtocol) {
					t.Fatalf("error %v is none of EOF, ErrUnexpectedEOF, ErrProtocol", err)
				}
				return
			}
			switch m.kind {
			case "call":
				if len(m.items) > 4 || (m.args != nil && len(m.items) != 4) {
					t.Fatalf("call of %d items, arguments %v", len(m.items), m.args != nil)
				}
			case "answer", "error":
				if len(m.items) > 4 || m.args != nil {
					t.Fatalf("%s of %d items", m.kind, len(m.items))
				}
			default:
				t.Fatalf("message kind %q", m.kind)
			}
			vals := append([]any(nil), m.items...)
			if m.args != nil {
				vals = append(vals, m.args.pos...)
				for k, v := range m.args.kw {
					vals = append(vals, []byte(k), v)
				}
			}
			for _, v := range vals {
				if hasRefs(v) {
					continue
				}
				roundTrip(t, tub, v)
			}
		}
	})
}

// roundTrip checks that v encodes and decodes to itself.
func roundTrip(t *testing.T, tub *Tub, v any) {
	t.Helper()
	e := &encoder{}
	n := e.open("answer")
	e.int(1)
	if err := e.value(v); err != nil {
		t.Fatalf("decoded %#v does not encode: %v", v, err)
	}
	e.close(n)
	d, _ := testDecoder(t, tub, introTubID, e.buf, Limits{MaxMessage: 1 << 30, MaxString: 1 << 30, MaxItems: 1 << 30, MaxDepth: 1 << 20})
	m, err := d.readMessage()
	if err != nil {
		t.Fatalf("%#v encoded as %x does not decode: %v", v, e.buf, err)
	}
	if !valueEqual(m.items[1], v) {
		t.Fatalf("%#v came back as %#v", v, m.items[1])
	}
}

// FuzzNegotiationBlock feeds arbitrary bytes to the readers of
// negotiation blocks: an error or a parsed block, never a panic, and a
// parsed block written again parses to the same keys.
func FuzzNegotiationBlock(f *testing.F) {
	f.Add([]byte("banana-negotiation-range: 3 3\r\ninitial-vocab-table-range: 0 1\r\nlast-connection: none 0\r\nmy-incarnation: 03aff586f58150da\r\nmy-tub-id: xrt6hr3yw2b7flidyu7grzeict3pe3we\r\n\r\n"))
	f.Add([]byte("banana-decision-version: 1\r\nerror: Duplicate connection\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: TLS/1.0, PB/1.0\r\nConnection: Upgrade\r\n\r\n"))
	f.Add([]byte("\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := readBlock(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		if len(b) > maxBlock {
			t.Fatalf("block of %d bytes", len(b))
		}
		m, err := parseBlock(b)
		if err != nil {
			return
		}
		again, err := readBlock(bufio.NewReader(bytes.NewReader(formatBlock(m))))
		if err != nil {
			return // a value with CR LF in it cannot be written back
		}
		m2, err := parseBlock(again)
		if err != nil {
			return
		}
		for k, v := range m2 {
			if m[k] != v && strings.TrimLeft(m[k], " ") != v {
				t.Fatalf("key %q: %q then %q", k, m[k], v)
			}
		}
	})
}
