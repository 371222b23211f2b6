package foolscap

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

// The live introducer of FOOLSCAP-NOTES.md section 6.
const (
	introTubID = "ntf3hdaw72avdtkhcpmo7akiwuqxpnjt"
	introSwiss = "7bd3qilmmszjrl5w6s2gxju3kj6dthk7"
	introIface = "RIIntroducerPublisherAndSubscriberService_v2.tahoe.allmydata.com"
	introFURL  = "pb://" + introTubID + "@tcp:127.0.0.1:41000/" + introSwiss
	subIface   = "RIIntroducerSubscriberClient_v2.tahoe.allmydata.com"
)

// The captured messages of section 6, written as the notes write them.
var (
	capGetRef = cat(x("00 88 0b 87 01 81 00 81 12 82"), "getReferenceByName",
		x("01 88 0c 87 00 81 04 82"), "name", x("20 82"), introSwiss,
		x("01 89 00 89"))
	capGetRefAnswer = cat(x("00 88 0d 87 01 81"),
		x("01 88 0f 87 01 81"),
		x("40 82"), introIface,
		x("5a 82"), introFURL,
		x("01 89 00 89"))
	capGetVersion = cat(x("02 88 0b 87 02 81 01 81 0b 82"), "get_version",
		x("03 88 0c 87 00 81 03 89 02 89"))
	capGetVersionAnswer = cat(x("02 88 0d 87 02 81"),
		x("03 88 03 87"),
		x("13 82"), "application-version", x("11 82"), "tahoe-lafs/1.20.0",
		x("32 82"), "http://allmydata.org/tahoe/protocols/introducer/v2",
		x("04 88 03 87 04 89"),
		x("03 89 02 89"))
	capSubscribe = cat(x("04 88 0b 87 03 81 01 81 0c 82"), "subscribe_v2",
		x("05 88 0c 87 03 81"),
		x("06 88 0f 87 01 81"),
		x("33 82"), subIface,
		x("06 89"),
		x("07 82"), "storage",
		x("07 88 03 87"),
		x("0c 82"), "app-versions", x("08 88 04 87 08 89"),
		x("0a 82"), "my-version", x("0c 82"), "lafs-probe/0",
		x("08 82"), "nickname", x("09 88 08 87 11 82"), "fs-research-probe", x("09 89"),
		x("10 82"), "oldest-supported", x("0c 82"), "lafs-probe/0",
		x("07 82"), "version", x("00 81"),
		x("07 89 05 89 04 89"))
	capAnnounceAnswer  = x("0a 88 0d 87 01 81 0b 88 00 87 0b 89 0a 89")
	capSubscribeAnswer = x("12 88 0d 87 03 81 13 88 00 87 13 89 12 89")
)

// subscriberInfo is the subscriber_info of the captured subscribe_v2, in
// the order Python sent it.
var subscriberInfo = Dict{
	{[]byte("app-versions"), List{}},
	{[]byte("my-version"), []byte("lafs-probe/0")},
	{[]byte("nickname"), "fs-research-probe"},
	{[]byte("oldest-supported"), []byte("lafs-probe/0")},
	{[]byte("version"), int64(0)},
}

// b128 writes n as a Banana header, independently of the encoder.
func b128(n int) []byte {
	var b []byte
	for {
		b = append(b, byte(n&0x7f))
		n >>= 7
		if n == 0 {
			return b
		}
	}
}

// capAnnounce builds an announce_v2 call of the captured shape: OPEN#5
// "call" reqID 1 to our clid 1, one positional argument, a set (OPEN#7) of
// ten 3-tuples of bytes (OPEN#8 to OPEN#17), the first with the captured
// sizes (a 596-byte message, a 106-byte signature, a 55-byte key).
func capAnnounce() ([]byte, []Tuple) {
	b := cat(x("05 88 0b 87 01 81 01 81 0b 82"), "announce_v2",
		x("06 88 0c 87 01 81"),
		x("07 88 06 87"))
	var anns []Tuple
	for i := 0; i < 10; i++ {
		msg := `{"version": 0, "nickname": "storage` + string(rune('0'+i)) + `"`
		sig := "v0-" + strings.Repeat(string(rune('a'+i)), 103)
		key := "v0-" + strings.Repeat(string(rune('k'+i)), 52)
		if i == 0 {
			msg += strings.Repeat(" ", 596-len(msg)-1) + "}"
		} else {
			msg += "}"
		}
		n := 8 + i
		b = append(b, b128(n)...)
		b = append(b, x("88 05 87")...)
		for _, s := range []string{msg, sig, key} {
			b = append(b, b128(len(s))...)
			b = append(b, 0x82)
			b = append(b, s...)
		}
		b = append(b, b128(n)...)
		b = append(b, 0x89)
		anns = append(anns, Tuple{[]byte(msg), []byte(sig), []byte(key)})
	}
	b = append(b, x("07 89 06 89 05 89")...)
	return b, anns
}

func TestCaptureLengths(t *testing.T) {
	// The byte counts the notes give: a check of the transcription.
	for _, c := range []struct {
		name string
		b    []byte
		n    int
	}{
		{"getReferenceByName", capGetRef, 78},
		{"its answer", capGetRefAnswer, 174},
		{"get_version", capGetVersion, 31},
		{"its answer", capGetVersionAnswer, 112},
		{"subscribe_v2", capSubscribe, 232},
		{"announce answer", capAnnounceAnswer, 14},
		{"subscribe answer", capSubscribeAnswer, 14},
	} {
		if len(c.b) != c.n {
			t.Errorf("%s: %d bytes, the capture has %d", c.name, len(c.b), c.n)
		}
	}
	b, _ := capAnnounce()
	if !bytes.Contains(b, x("54 04 82 7b")) {
		t.Error("the announcement's first message does not have the captured 596-byte header")
	}
}

// testDecoder returns a decoder of b for a connection (not connected) to
// the tub peer, and the PING numbers it saw.
func testDecoder(t testing.TB, tub *Tub, peer string, b []byte, l Limits) (*decoder, *[]uint64) {
	t.Helper()
	c := newConn(tub, nil, nil, bufio.NewReader(bytes.NewReader(b)), peer)
	var pings []uint64
	c.dec.limits = l.withDefaults()
	c.dec.pong = func(n uint64) { pings = append(pings, n) }
	return &c.dec, &pings
}

func newTestTub(t testing.TB, opts ...TubOption) *Tub {
	t.Helper()
	tub, err := NewTub(testCert(t, false), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tub.Close() })
	return tub
}

// TestGoldenSession replays the captured session over a pipe: what the
// connection writes must be the captured bytes, byte for byte, and it must
// understand the introducer's captured answers and its announce_v2 call.
func TestGoldenSession(t *testing.T) {
	tub := newTestTub(t)
	ours, theirs := net.Pipe()
	t.Cleanup(func() { theirs.Close() })
	live := newLiveReader(ours)
	c := newConn(tub, ours, live, bufio.NewReader(live), introTubID)
	if err := tub.adopt(c); err != nil {
		t.Fatal(err)
	}
	c.start()
	theirs.SetDeadline(time.Now().Add(10 * time.Second))
	ctx := testCtx(t)

	expect := func(what string, want []byte) {
		t.Helper()
		got := make([]byte, len(want))
		if _, err := io.ReadFull(theirs, got); err != nil {
			t.Fatalf("%s: reading: %v", what, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s:\n got %x\nwant %x", what, got, want)
		}
	}
	write := func(b []byte) {
		t.Helper()
		if _, err := theirs.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	type res struct {
		v   any
		err error
	}
	run := func(f func() (any, error)) chan res {
		ch := make(chan res, 1)
		go func() {
			v, err := f()
			ch <- res{v, err}
		}()
		return ch
	}

	// 1. getReferenceByName, as Dial calls it.
	ch := run(func() (any, error) {
		return c.call(ctx, 0, "getReferenceByName", nil, Dict{{"name", []byte(introSwiss)}}, true)
	})
	expect("getReferenceByName", capGetRef)
	write(capGetRefAnswer)
	r := recv(t, ch)
	ref, ok := r.v.(*RemoteRef)
	if r.err != nil || !ok {
		t.Fatalf("getReferenceByName: %v, %v", r.v, r.err)
	}
	if ref.clid != 1 || ref.Interface() != introIface || ref.furl != introFURL || ref.Conn() != c {
		t.Fatalf("reference %+v", ref)
	}

	// 2. get_version.
	ch = run(func() (any, error) { return ref.Call(ctx, "get_version") })
	expect("get_version", capGetVersion)
	write(capGetVersionAnswer)
	r = recv(t, ch)
	want := Dict{
		{[]byte("application-version"), []byte("tahoe-lafs/1.20.0")},
		{[]byte("http://allmydata.org/tahoe/protocols/introducer/v2"), Dict{}},
	}
	if r.err != nil || !valueEqual(r.v, want) {
		t.Fatalf("get_version: %#v, %v", r.v, r.err)
	}

	// 3. subscribe_v2, answered only after our answer to announce_v2.
	sub := &echo{iface: subIface, calls: make(chan *Call, 1)}
	ch = run(func() (any, error) { return ref.Call(ctx, "subscribe_v2", sub, []byte("storage"), subscriberInfo) })
	expect("subscribe_v2", capSubscribe)
	ann, anns := capAnnounce()
	write(ann)
	expect("answer to announce_v2", capAnnounceAnswer)
	call := recv(t, sub.calls)
	if call.Method != "announce_v2" || len(call.Args) != 1 || len(call.Kwargs) != 0 || call.Conn != c {
		t.Fatalf("announce_v2 call %+v", call)
	}
	set, ok := call.Args[0].(Set)
	if !ok || len(set) != 10 {
		t.Fatalf("announce_v2 of %T with %d items", call.Args[0], len(set))
	}
	for i := range set {
		if !valueEqual(set[i], anns[i]) {
			t.Fatalf("announcement %d: %v", i, set[i])
		}
	}
	select {
	case r := <-ch:
		t.Fatalf("subscribe_v2 returned before its answer: %v, %v", r.v, r.err)
	default:
	}
	write(capSubscribeAnswer)
	if r := recv(t, ch); r.err != nil || r.v != nil {
		t.Fatalf("subscribe_v2: %v, %v", r.v, r.err)
	}

	// Both OPEN counters ran on across messages: ours 0 to 11, theirs 0
	// to 19.
	c.writeMu.Lock()
	opens := c.opens
	c.writeMu.Unlock()
	if opens != 12 {
		t.Errorf("we sent %d OPENs, the capture 12", opens)
	}

	// 4. PING gets a PONG with the same number; none is written as no
	// header at all.
	write(x("8e"))
	expect("PONG", x("8f"))
	write(x("07 8e"))
	expect("PONG 7", x("07 8f"))
	write(x("00 01 8e"))
	expect("PONG 128", x("00 01 8f"))

	c.Close()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the connection")
	}
	if !errors.Is(c.Err(), ErrClosed) {
		t.Errorf("Err after Close: %v", c.Err())
	}
	if _, err := ref.Call(ctx, "get_version"); !errors.Is(err, ErrClosed) {
		t.Errorf("a call after Close: %v", err)
	}
}

// TestGoldenDecode decodes the introducer's captured messages as one
// stream, as they arrived.
func TestGoldenDecode(t *testing.T) {
	tub := newTestTub(t)
	ann, anns := capAnnounce()
	// The announce_v2 call targets our clid 1: export something there.
	stream := cat(capGetRefAnswer, capGetVersionAnswer, ann, x("8e"), capSubscribeAnswer)
	d, pings := testDecoder(t, tub, introTubID, stream, Limits{})

	m, err := d.readMessage()
	if err != nil || m.kind != "answer" || len(m.items) != 2 || m.items[0] != int64(1) {
		t.Fatalf("my-reference answer: %+v, %v", m, err)
	}
	ref, ok := m.items[1].(*RemoteRef)
	if !ok || ref.clid != 1 || ref.iface != introIface || ref.furl != introFURL {
		t.Fatalf("my-reference %#v", m.items[1])
	}

	m, err = d.readMessage()
	if err != nil || m.kind != "answer" || m.items[0] != int64(2) {
		t.Fatalf("get_version answer: %+v, %v", m, err)
	}
	dict, ok := m.items[1].(Dict)
	if !ok || len(dict) != 2 {
		t.Fatalf("get_version answered %#v", m.items[1])
	}
	if v, ok := dict.Get("application-version"); !ok || !equalBytes(v, "tahoe-lafs/1.20.0") {
		t.Errorf("application-version %v", v)
	}
	if v, ok := dict.Get([]byte("http://allmydata.org/tahoe/protocols/introducer/v2")); !ok || !valueEqual(v, Dict{}) {
		t.Errorf("v2 entry %#v", v)
	}

	m, err = d.readMessage()
	if err != nil || m.kind != "call" || len(m.items) != 4 || m.args == nil {
		t.Fatalf("announce_v2: %+v, %v", m, err)
	}
	if m.items[0] != int64(1) || m.items[1] != int64(1) || !equalBytes(m.items[2], "announce_v2") {
		t.Fatalf("announce_v2 header %v", m.items[:3])
	}
	if len(m.args.pos) != 1 || len(m.args.kw) != 0 {
		t.Fatalf("announce_v2 arguments %+v", m.args)
	}
	if !valueEqual(m.args.pos[0], Set{anns[0], anns[1], anns[2], anns[3], anns[4], anns[5], anns[6], anns[7], anns[8], anns[9]}) {
		t.Fatalf("announcements %v", m.args.pos[0])
	}

	m, err = d.readMessage()
	if err != nil || m.kind != "answer" || len(m.items) != 2 || m.items[0] != int64(3) || m.items[1] != nil {
		t.Fatalf("subscribe_v2 answer: %+v, %v", m, err)
	}
	if len(*pings) != 1 || (*pings)[0] != 0 {
		t.Errorf("pings %v", *pings)
	}
	if d.opens != 20 {
		t.Errorf("counted %d OPENs, the capture has 20", d.opens)
	}
	if _, err := d.readMessage(); err != io.EOF {
		t.Errorf("at the end: %v", err)
	}
}

// TestGoldenEncodeAnswer checks the None answer to announce_v2 on its
// own: answer reqID 1 with OPEN numbers 10 and 11.
func TestGoldenEncodeAnswer(t *testing.T) {
	e := &encoder{opens: 10}
	n := e.open("answer")
	e.int(1)
	if err := e.value(nil); err != nil {
		t.Fatal(err)
	}
	e.close(n)
	if !bytes.Equal(e.buf, capAnnounceAnswer) {
		t.Fatalf("got %x, want %x", e.buf, capAnnounceAnswer)
	}
	if e.opens != 12 {
		t.Fatalf("opens %d", e.opens)
	}
}

func TestEncodeValues(t *testing.T) {
	big2 := func(s string) *big.Int {
		v, ok := new(big.Int).SetString(s, 0)
		if !ok {
			panic(s)
		}
		return v
	}
	long := bytes.Repeat([]byte{'a'}, 596)
	for _, c := range []struct {
		name string
		v    any
		want []byte
	}{
		{"0", int64(0), x("00 81")},
		{"1", int64(1), x("01 81")},
		{"128", int64(128), x("00 01 81")},
		{"int 128", 128, x("00 01 81")},
		{"2^31-1", int64(1<<31 - 1), x("7f 7f 7f 7f 07 81")},
		{"2^31", int64(1 << 31), x("04 8b 80 00 00 00")},
		{"-1", int64(-1), x("01 83")},
		{"-2^31", int64(-1 << 31), x("00 00 00 00 08 83")},
		{"-2^31-1", int64(-1<<31 - 1), x("04 8c 80 00 00 01")},
		{"max int64", int64(math.MaxInt64), x("08 8b 7f ff ff ff ff ff ff ff")},
		{"min int64", int64(math.MinInt64), x("08 8c 80 00 00 00 00 00 00 00")},
		{"2^64", big2("0x10000000000000000"), x("09 8b 01 00 00 00 00 00 00 00 00")},
		{"-2^64", big2("-0x10000000000000000"), x("09 8c 01 00 00 00 00 00 00 00 00")},
		{"small big", big.NewInt(5), x("05 81")},
		{"small negative big", big.NewInt(-5), x("05 83")},
		{"596-byte string", long, cat(x("54 04 82"), long)},
		{"empty bytes", []byte{}, x("00 82")},
		{"vocab word as data", []byte("list"), x("04 87")},
		{"vocab word 24", []byte("attrdict"), x("18 87")},
		{"text", "hé", cat(x("00 88 08 87 03 82"), "hé", x("00 89"))},
		{"None", nil, x("00 88 00 87 00 89")},
		{"True", true, x("00 88 01 87 01 81 00 89")},
		{"False", false, x("00 88 01 87 00 81 00 89")},
		{"float", 1.5, x("84 3f f8 00 00 00 00 00 00")},
		{"list", List{int64(1), []byte("x")}, cat(x("00 88 04 87 01 81 01 82"), "x", x("00 89"))},
		{"[]any", []any{}, x("00 88 04 87 00 89")},
		{"tuple", Tuple{}, x("00 88 05 87 00 89")},
		{"set", Set{int64(2)}, x("00 88 06 87 02 81 00 89")},
		{"dict", Dict{{[]byte("k"), List{}}}, cat(x("00 88 03 87 01 82"), "k", x("01 88 04 87 01 89 00 89"))},
	} {
		e := &encoder{}
		if err := e.value(c.v); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !bytes.Equal(e.buf, c.want) {
			t.Errorf("%s: got %x, want %x", c.name, e.buf, c.want)
		}
	}

	// What cannot be sent.
	for _, v := range []any{"\xff", uint8(1), struct{}{}, &RemoteRef{}, &echo{}, List{make(chan int)}} {
		e := &encoder{}
		if err := e.value(v); err == nil {
			t.Errorf("%T encoded: %x", v, e.buf)
		}
	}
}

func TestDecodeInts(t *testing.T) {
	tub := newTestTub(t)
	for _, c := range []struct {
		in   []byte
		want any
	}{
		{x("81"), int64(0)}, // an empty header means 0
		{x("00 81"), int64(0)},
		{x("00 01 81"), int64(128)},
		{x("01 83"), int64(-1)},
		{x("04 8b 80 00 00 00"), int64(1 << 31)},
		{x("04 8c 80 00 00 01"), int64(-1<<31 - 1)},
		{x("01 8b 05"), int64(5)},
		{x("00 8b"), int64(0)},
		{x("09 8b 01 00 00 00 00 00 00 00 00"), new(big.Int).Lsh(big.NewInt(1), 64)},
		{x("08 8c 80 00 00 00 00 00 00 00"), int64(math.MinInt64)},
		{x("08 8b 80 00 00 00 00 00 00 00"), new(big.Int).Lsh(big.NewInt(1), 63)},
		{x("7f 7f 7f 7f 7f 7f 7f 7f 7f 81"), int64(math.MaxInt64)},
		{x("7f 7f 7f 7f 7f 7f 7f 7f 7f 83"), int64(-math.MaxInt64)},
		{cat(x("54 04 82"), strings.Repeat("z", 596)), []byte(strings.Repeat("z", 596))},
		{x("84 3f f8 00 00 00 00 00 00"), 1.5},
		{x("03 87"), []byte("dict")},
		{x("00 82"), []byte{}},
	} {
		// As the one item of an answer.
		msg := cat(x("00 88 0d 87 01 81"), c.in, x("00 89"))
		d, _ := testDecoder(t, tub, introTubID, msg, Limits{})
		m, err := d.readMessage()
		if err != nil {
			t.Errorf("%x: %v", c.in, err)
			continue
		}
		if !valueEqual(m.items[1], c.want) {
			t.Errorf("%x: got %#v, want %#v", c.in, m.items[1], c.want)
		}
	}
}

func TestVocab(t *testing.T) {
	if vocabHash != "bb33" {
		t.Errorf("vocab hash %q, want bb33", vocabHash)
	}
	if len(vocab) != 25 || vocabIndex["none"] != 0 || vocabIndex["call"] != 11 || vocabIndex["my-reference"] != 15 || vocabIndex["attrdict"] != 24 {
		t.Errorf("vocab table %v", vocab)
	}
}

// TestGoldenHello checks our hello block against the captured 169-byte
// client hello.
func TestGoldenHello(t *testing.T) {
	tub := newTestTub(t)
	tub.tubID = "xrt6hr3yw2b7flidyu7grzeict3pe3we"
	tub.incarnation = "03aff586f58150da"
	want := "banana-negotiation-range: 3 3\r\n" +
		"initial-vocab-table-range: 0 1\r\n" +
		"last-connection: none 0\r\n" +
		"my-incarnation: 03aff586f58150da\r\n" +
		"my-tub-id: xrt6hr3yw2b7flidyu7grzeict3pe3we\r\n" +
		"\r\n"
	got := formatBlock(tub.hello(introTubID, true))
	if string(got) != want || len(got) != 169 {
		t.Fatalf("hello:\n%q\nwant\n%q", got, want)
	}
	// The server's hello has no last-connection line.
	if h := tub.hello(introTubID, false); h["last-connection"] != "" {
		t.Errorf("server hello %v", h)
	}
	// Parsing lower-cases keys and drops the spaces before values.
	m, err := parseBlock([]byte("My-Tub-ID:   abc\r\nerror: x: y"))
	if err != nil || m["my-tub-id"] != "abc" || m["error"] != "x: y" {
		t.Errorf("parseBlock: %v, %v", m, err)
	}
	if _, err := parseBlock([]byte("no colon")); !errors.Is(err, ErrProtocol) {
		t.Errorf("parseBlock of a line without a colon: %v", err)
	}
}

// TestTubIDOf checks the tub ID against a certificate hash computed by
// hand.
func TestTubIDOf(t *testing.T) {
	// SHA-1("") is da39a3ee5e6b4b0d3255bfef95601890afd80709.
	if got := TubIDOf(nil); got != "3i42h3s6nnfq2msvx7xzkyayscx5qbyj" {
		t.Errorf("TubIDOf(nil) = %s", got)
	}
	cert := testCert(t, true)
	id := TubIDOf(cert.Certificate[0])
	tub, err := NewTub(cert)
	if err != nil {
		t.Fatal(err)
	}
	if tub.TubID() != id || len(id) != 32 || strings.ToLower(id) != id {
		t.Errorf("tub ID %q, cert %q", tub.TubID(), id)
	}
	if _, err := NewTub(cert, WithKeepalive(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := NewTub(tlsCertWithoutKey(cert)); err == nil {
		t.Error("NewTub took a certificate without a key")
	}
}
