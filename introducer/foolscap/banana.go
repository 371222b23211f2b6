package foolscap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strings"
	"unicode/utf8"
)

// Banana's token types (foolscap/tokens.py; the spec's 0x85/0x86 for long
// integers are stale, the code uses 0x8B/0x8C).
const (
	tokList    = 0x80 // old banana, refused
	tokInt     = 0x81
	tokString  = 0x82
	tokNeg     = 0x83
	tokFloat   = 0x84
	tokVocab   = 0x87
	tokOpen    = 0x88
	tokClose   = 0x89
	tokAbort   = 0x8A
	tokLongInt = 0x8B
	tokLongNeg = 0x8C
	tokError   = 0x8D
	tokPing    = 0x8E
	tokPong    = 0x8F
)

// vocab is Foolscap's initial vocabulary table 1, which negotiation
// selects: a VOCAB token stands for the byte string at its index.
var vocab = []string{
	"none", "boolean", "reference", "dict", "list", "tuple", "set", "immutable-set",
	"unicode", "set-vocab", "add-vocab", "call", "arguments", "answer", "error",
	"my-reference", "your-reference", "their-reference", "copyable",
	"instance", "module", "class", "method", "function", "attrdict",
}

var vocabIndex = func() map[string]int {
	m := make(map[string]int, len(vocab))
	for i, w := range vocab {
		m[w] = i
	}
	return m
}()

// ErrProtocol is wrapped by the errors of a peer that broke the protocol:
// malformed or oversized Banana, a bad negotiation, an unexpected message.
// Its connection is dropped.
var ErrProtocol = errors.New("foolscap protocol error")

// Limits bound what a peer may send. The zero value of a field means its
// default.
type Limits struct {
	// MaxMessage bounds the bytes of one top-level message (a call, an
	// answer or an error): 8 MiB by default.
	MaxMessage int
	// MaxString bounds one byte string: 1 MiB by default.
	MaxString int
	// MaxItems bounds the values of one message: 200,000 by default.
	MaxItems int
	// MaxDepth bounds the nesting of sequences: 32 by default.
	MaxDepth int
}

func (l Limits) withDefaults() Limits {
	if l.MaxMessage <= 0 {
		l.MaxMessage = 8 << 20
	}
	if l.MaxString <= 0 {
		l.MaxString = 1 << 20
	}
	if l.MaxItems <= 0 {
		l.MaxItems = 200000
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 32
	}
	return l
}

// Fixed limits of the format.
const (
	maxHeader     = 9  // header bytes: 63 bits are plenty
	maxLongInt    = 64 // bytes of a LONGINT's magnitude
	maxErrorToken = 1000
	maxOpenType   = 15 // the longest registered opentype, "their-reference"
)

func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...))
}

// --- encoding ---

// encoder appends tokens to buf. opens is the connection's count of OPEN
// tokens sent, which numbers them; it is committed only when the whole
// message has been encoded.
type encoder struct {
	buf   []byte
	opens uint64
	conn  *Conn // for references; nil when none may be sent
	// exported lists the clids whose my-reference this message sends,
	// counted once the message is sent.
	exported []exportUse
}

type exportUse struct {
	clid  int64
	first bool
}

func (e *encoder) header(n uint64) {
	for {
		e.buf = append(e.buf, byte(n&0x7f))
		n >>= 7
		if n == 0 {
			return
		}
	}
}

func (e *encoder) int(v int64) {
	switch {
	case v >= 0 && v < 1<<31:
		e.header(uint64(v))
		e.buf = append(e.buf, tokInt)
	case v < 0 && v >= -(1<<31):
		e.header(uint64(-v))
		e.buf = append(e.buf, tokNeg)
	default:
		e.bigInt(big.NewInt(v))
	}
}

func (e *encoder) bigInt(v *big.Int) {
	if v.IsInt64() && v.Int64() >= -(1<<31) && v.Int64() < 1<<31 {
		e.int(v.Int64())
		return
	}
	mag := new(big.Int).Abs(v).Bytes()
	e.header(uint64(len(mag)))
	if v.Sign() < 0 {
		e.buf = append(e.buf, tokLongNeg)
	} else {
		e.buf = append(e.buf, tokLongInt)
	}
	e.buf = append(e.buf, mag...)
}

// bytes writes a byte string, as a VOCAB token when it is a vocabulary
// word (as Foolscap does, for data strings too).
func (e *encoder) bytes(b []byte) {
	if i, ok := vocabIndex[string(b)]; ok {
		e.header(uint64(i))
		e.buf = append(e.buf, tokVocab)
		return
	}
	e.header(uint64(len(b)))
	e.buf = append(e.buf, tokString)
	e.buf = append(e.buf, b...)
}

// open starts a sequence of the given type and returns its number.
func (e *encoder) open(typ string) uint64 {
	n := e.opens
	e.opens++
	e.header(n)
	e.buf = append(e.buf, tokOpen)
	e.bytes([]byte(typ))
	return n
}

func (e *encoder) close(n uint64) {
	e.header(n)
	e.buf = append(e.buf, tokClose)
}

// value encodes v.
func (e *encoder) value(v any) error {
	switch v := v.(type) {
	case nil:
		e.close(e.open("none"))
	case bool:
		n := e.open("boolean")
		if v {
			e.int(1)
		} else {
			e.int(0)
		}
		e.close(n)
	case int:
		e.int(int64(v))
	case int64:
		e.int(v)
	case *big.Int:
		e.bigInt(v)
	case float64:
		e.buf = append(e.buf, tokFloat)
		e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(v))
	case []byte:
		e.bytes(v)
	case string:
		if !utf8.ValidString(v) {
			return fmt.Errorf("foolscap: text %q is not UTF-8", v)
		}
		n := e.open("unicode")
		e.header(uint64(len(v)))
		e.buf = append(e.buf, tokString)
		e.buf = append(e.buf, v...)
		e.close(n)
	case List:
		return e.seq("list", v)
	case []any:
		return e.seq("list", v)
	case Tuple:
		return e.seq("tuple", v)
	case Set:
		return e.seq("set", v)
	case Dict:
		n := e.open("dict")
		for _, it := range v {
			if err := e.value(it.Key); err != nil {
				return err
			}
			if err := e.value(it.Value); err != nil {
				return err
			}
		}
		e.close(n)
	case *Failure:
		n := e.open("copyable")
		e.bytes([]byte(failureClass))
		attr := func(k, s string, max int) {
			s = truncateText(s, max)
			e.bytes([]byte(k))
			e.bytes([]byte(s))
		}
		attr("type", v.Type, maxFailureType)
		attr("value", v.Value, maxFailureValue)
		attr("traceback", v.Traceback, maxFailureTraceback)
		e.bytes([]byte("parents"))
		pn := e.open("list")
		for _, p := range v.Parents {
			e.bytes([]byte(p))
		}
		e.close(pn)
		e.close(n)
	case *RemoteRef:
		if e.conn == nil || v.conn != e.conn {
			return errors.New("foolscap: a reference to another connection's object cannot be sent (gifts are not supported)")
		}
		n := e.open("your-reference")
		e.int(v.clid)
		e.close(n)
	case Object:
		if e.conn == nil {
			return errors.New("foolscap: no references may be sent here")
		}
		clid, first, furl := e.conn.export(v)
		e.exported = append(e.exported, exportUse{clid, first})
		n := e.open("my-reference")
		e.int(clid)
		if first {
			e.bytes([]byte(v.RemoteInterface()))
			if furl != "" {
				e.bytes([]byte(furl))
			}
		}
		e.close(n)
	default:
		return fmt.Errorf("foolscap: cannot send a %T", v)
	}
	return nil
}

func (e *encoder) seq(typ string, items []any) error {
	n := e.open(typ)
	for _, it := range items {
		if err := e.value(it); err != nil {
			return err
		}
	}
	e.close(n)
	return nil
}

// truncateText cuts s to at most n bytes at a character boundary, as
// Python decodes a Failure's texts strictly.
func truncateText(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// --- decoding ---

// token is one Banana token.
type token struct {
	typ    byte
	header uint64
	body   []byte // STRING, LONGINT, LONGNEG, ERROR, FLOAT
}

// decoder reads Banana from r. It answers PING tokens itself through pong.
type decoder struct {
	r      *bufio.Reader
	limits Limits
	opens  uint64 // OPEN tokens received, which number containers
	pong   func(n uint64)
	conn   *Conn

	// Per message:
	size  int // bytes read
	items int
	refs  map[uint64]container // finished containers by number, for "reference"
}

// container is a finished list, tuple, set or dict, and the number of
// values in it, which every "reference" to it counts again: otherwise a
// few bytes of references to references could stand for billions of
// values that a consumer walking them would meet.
type container struct {
	v     any
	items int
}

// readToken reads the next token, answering PINGs and dropping PONGs.
func (d *decoder) readToken() (token, error) {
	for {
		t, err := d.readRaw()
		if err != nil {
			return t, err
		}
		switch t.typ {
		case tokPing:
			if d.pong != nil {
				d.pong(t.header)
			}
			continue
		case tokPong:
			continue
		}
		return t, nil
	}
}

func (d *decoder) readRaw() (token, error) {
	var t token
	var shift uint
	for i := 0; ; i++ {
		c, err := d.r.ReadByte()
		if err != nil {
			if i > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return t, err
		}
		d.size++
		if c >= 0x80 {
			t.typ = c
			break
		}
		if i >= maxHeader {
			return t, protoErr("token header longer than %d bytes", maxHeader)
		}
		t.header |= uint64(c) << shift
		shift += 7
	}
	if d.size > d.limits.MaxMessage {
		return t, protoErr("message longer than %d bytes", d.limits.MaxMessage)
	}
	var n uint64
	switch t.typ {
	case tokString:
		if t.header > uint64(d.limits.MaxString) {
			return t, protoErr("string of %d bytes, more than the limit of %d", t.header, d.limits.MaxString)
		}
		n = t.header
	case tokLongInt, tokLongNeg:
		if t.header > maxLongInt {
			return t, protoErr("long integer of %d bytes", t.header)
		}
		n = t.header
	case tokError:
		if t.header > maxErrorToken {
			return t, protoErr("ERROR token of %d bytes", t.header)
		}
		n = t.header
	case tokFloat:
		n = 8
	case tokInt, tokNeg, tokVocab, tokOpen, tokClose, tokAbort, tokPing, tokPong:
	case tokList:
		return t, protoErr("old-style LIST token")
	default:
		return t, protoErr("unknown token type %#x", t.typ)
	}
	if n > 0 {
		if d.size+int(n) > d.limits.MaxMessage {
			return t, protoErr("message longer than %d bytes", d.limits.MaxMessage)
		}
		t.body = make([]byte, n)
		if _, err := io.ReadFull(d.r, t.body); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return t, err
		}
		d.size += int(n)
	}
	if t.typ == tokError {
		return t, fmt.Errorf("%w: the peer reported an error and hangs up: %q", ErrProtocol, t.body)
	}
	if t.typ == tokAbort {
		return t, protoErr("the peer aborted a sequence (ABORT)")
	}
	return t, nil
}

// message is one decoded top-level sequence.
type message struct {
	kind  string // call, answer or error
	items []any  // its children
	args  *arguments
}

// arguments is a call's "arguments" sequence.
type arguments struct {
	pos []any
	kw  map[string]any
}

// readMessage reads one top-level message: a call, an answer or an error.
func (d *decoder) readMessage() (*message, error) {
	d.size, d.items, d.refs = 0, 0, nil
	t, err := d.readToken()
	if err != nil {
		return nil, err
	}
	if t.typ != tokOpen {
		return nil, protoErr("top-level token %#x is not OPEN", t.typ)
	}
	typ, num, err := d.openType(t)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "call", "answer", "error":
	default:
		return nil, protoErr("top-level sequence %q (only call, answer and error are allowed)", typ)
	}
	m := &message{kind: typ}
	for {
		t, err := d.readToken()
		if err != nil {
			return nil, err
		}
		if t.typ == tokClose {
			if t.header != num {
				return nil, protoErr("lost sync: CLOSE(%d) for OPEN(%d)", t.header, num)
			}
			return m, nil
		}
		if typ == "call" && len(m.items) == 3 && t.typ == tokOpen {
			at, an, err := d.openType(t)
			if err != nil {
				return nil, err
			}
			if at != "arguments" {
				return nil, protoErr("call's fourth item is %q, not arguments", at)
			}
			if m.args, err = d.arguments(an); err != nil {
				return nil, err
			}
			m.items = append(m.items, nil)
			continue
		}
		v, err := d.value(t, 1)
		if err != nil {
			return nil, err
		}
		m.items = append(m.items, v)
		if len(m.items) > 4 {
			return nil, protoErr("%s with %d items", typ, len(m.items))
		}
	}
}

// openType reads the type name that follows an OPEN token.
func (d *decoder) openType(open token) (string, uint64, error) {
	d.opens++
	t, err := d.readToken()
	if err != nil {
		return "", 0, err
	}
	switch t.typ {
	case tokString:
		if len(t.body) > maxOpenType {
			return "", 0, protoErr("opentype of %d bytes", len(t.body))
		}
		return string(t.body), open.header, nil
	case tokVocab:
		if t.header >= uint64(len(vocab)) {
			return "", 0, protoErr("VOCAB(%d) outside the table", t.header)
		}
		return vocab[t.header], open.header, nil
	}
	return "", 0, protoErr("opentype token %#x is not a string", t.typ)
}

func (d *decoder) arguments(num uint64) (*arguments, error) {
	a := &arguments{kw: map[string]any{}}
	t, err := d.readToken()
	if err != nil {
		return nil, err
	}
	if t.typ != tokInt {
		return nil, protoErr("arguments: count is not an INT")
	}
	npos := t.header
	for {
		t, err := d.readToken()
		if err != nil {
			return nil, err
		}
		if t.typ == tokClose {
			if t.header != num {
				return nil, protoErr("lost sync: CLOSE(%d) for OPEN(%d)", t.header, num)
			}
			if uint64(len(a.pos)) != npos {
				return nil, protoErr("arguments: %d positional, announced %d", len(a.pos), npos)
			}
			return a, nil
		}
		if uint64(len(a.pos)) < npos {
			v, err := d.value(t, 2)
			if err != nil {
				return nil, err
			}
			a.pos = append(a.pos, v)
			continue
		}
		name, err := d.value(t, 2)
		if err != nil {
			return nil, err
		}
		nb, ok := Bytes(name)
		if !ok {
			return nil, protoErr("arguments: keyword is a %T", name)
		}
		t, err = d.readToken()
		if err != nil {
			return nil, err
		}
		if t.typ == tokClose {
			return nil, protoErr("arguments: keyword %q without a value", nb)
		}
		v, err := d.value(t, 2)
		if err != nil {
			return nil, err
		}
		if _, dup := a.kw[string(nb)]; dup {
			return nil, protoErr("arguments: keyword %q twice", nb)
		}
		a.kw[string(nb)] = v
	}
}

// value decodes the value that starts with token t, at the given depth.
func (d *decoder) value(t token, depth int) (any, error) {
	d.items++
	if d.items > d.limits.MaxItems {
		return nil, protoErr("more than %d values in one message", d.limits.MaxItems)
	}
	switch t.typ {
	case tokInt:
		if t.header > math.MaxInt64 {
			return nil, protoErr("INT out of range")
		}
		return int64(t.header), nil
	case tokNeg:
		if t.header > math.MaxInt64 {
			return nil, protoErr("NEG out of range")
		}
		return -int64(t.header), nil
	case tokLongInt, tokLongNeg:
		v := new(big.Int).SetBytes(t.body)
		if t.typ == tokLongNeg {
			v.Neg(v)
		}
		if v.IsInt64() {
			return v.Int64(), nil
		}
		return v, nil
	case tokFloat:
		return math.Float64frombits(binary.BigEndian.Uint64(t.body)), nil
	case tokString:
		return t.body, nil
	case tokVocab:
		if t.header >= uint64(len(vocab)) {
			return nil, protoErr("VOCAB(%d) outside the table", t.header)
		}
		return []byte(vocab[t.header]), nil
	case tokOpen:
		if depth >= d.limits.MaxDepth {
			return nil, protoErr("sequences nested deeper than %d", d.limits.MaxDepth)
		}
		number := d.opens
		typ, num, err := d.openType(t)
		if err != nil {
			return nil, err
		}
		return d.sequence(typ, num, number, depth+1)
	case tokClose:
		return nil, protoErr("CLOSE(%d) where a value belongs", t.header)
	}
	return nil, protoErr("token %#x where a value belongs", t.typ)
}

// children reads values up to the CLOSE numbered num.
func (d *decoder) children(num uint64, depth int) ([]any, error) {
	var out []any
	for {
		t, err := d.readToken()
		if err != nil {
			return nil, err
		}
		if t.typ == tokClose {
			if t.header != num {
				return nil, protoErr("lost sync: CLOSE(%d) for OPEN(%d)", t.header, num)
			}
			return out, nil
		}
		v, err := d.value(t, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

// sequence decodes the body of a sequence of type typ whose OPEN carried
// num; number is its place in the receiver's count, which "reference"
// uses.
func (d *decoder) sequence(typ string, num, number uint64, depth int) (any, error) {
	start := d.items
	kids, err := d.children(num, depth)
	if err != nil {
		return nil, err
	}
	want := func(n int) error {
		if len(kids) != n {
			return protoErr("%s with %d items, want %d", typ, len(kids), n)
		}
		return nil
	}
	var v any
	switch typ {
	case "none":
		if err := want(0); err != nil {
			return nil, err
		}
		return nil, nil
	case "boolean":
		if err := want(1); err != nil {
			return nil, err
		}
		i, ok := kids[0].(int64)
		if !ok || (i != 0 && i != 1) {
			return nil, protoErr("boolean of %v", kids[0])
		}
		return i == 1, nil
	case "unicode":
		if err := want(1); err != nil {
			return nil, err
		}
		b, ok := kids[0].([]byte)
		if !ok || !utf8.Valid(b) {
			return nil, protoErr("unicode that is not UTF-8 bytes")
		}
		return string(b), nil
	case "list":
		v = List(kids)
	case "tuple":
		v = Tuple(kids)
	case "set", "immutable-set":
		v = Set(kids)
	case "dict":
		if len(kids)%2 != 0 {
			return nil, protoErr("dict with an odd number of items")
		}
		dict := make(Dict, 0, len(kids)/2)
		for i := 0; i < len(kids); i += 2 {
			k := kids[i]
			if _, ok := k.(int64); !ok {
				if _, ok := asText(k); !ok {
					if _, ok := k.(Tuple); !ok && k != nil {
						return nil, protoErr("dict key of type %T", k)
					}
				}
			}
			if len(kids) <= 64 { // Tahoe's dicts are small; a long one is checked by its use
				if _, dup := dict.Get(k); dup {
					return nil, protoErr("dict with a key twice")
				}
			}
			dict = append(dict, Item{k, kids[i+1]})
		}
		v = dict
	case "reference":
		if err := want(1); err != nil {
			return nil, err
		}
		n, ok := kids[0].(int64)
		if !ok {
			return nil, protoErr("reference to %v", kids[0])
		}
		ref, ok := d.refs[uint64(n)]
		if !ok {
			return nil, protoErr("reference to %d, which is no finished container of this message", n)
		}
		d.items += ref.items
		if d.items > d.limits.MaxItems {
			return nil, protoErr("more than %d values in one message", d.limits.MaxItems)
		}
		return ref.v, nil
	case "my-reference":
		if len(kids) < 1 || len(kids) > 3 {
			return nil, protoErr("my-reference with %d items", len(kids))
		}
		clid, ok := kids[0].(int64)
		if !ok {
			return nil, protoErr("my-reference with clid %v", kids[0])
		}
		var iface, furl string
		if len(kids) > 1 {
			b, ok := Bytes(kids[1])
			if !ok {
				return nil, protoErr("my-reference with interface %T", kids[1])
			}
			iface = string(b)
		}
		if len(kids) > 2 {
			b, ok := Bytes(kids[2])
			if !ok {
				return nil, protoErr("my-reference with fURL %T", kids[2])
			}
			furl = string(b)
		}
		if d.conn == nil {
			return nil, protoErr("my-reference outside a connection")
		}
		return d.conn.imported(clid, iface, furl)
	case "your-reference":
		if err := want(1); err != nil {
			return nil, err
		}
		clid, ok := kids[0].(int64)
		if !ok {
			return nil, protoErr("your-reference with clid %v", kids[0])
		}
		if d.conn == nil {
			return nil, protoErr("your-reference outside a connection")
		}
		obj := d.conn.lookupExport(clid)
		if obj == nil {
			return nil, protoErr("your-reference to %d, which we never sent", clid)
		}
		return obj, nil
	case "copyable":
		if len(kids) < 1 || len(kids)%2 != 1 {
			return nil, protoErr("copyable with %d items", len(kids))
		}
		class, ok := Bytes(kids[0])
		if !ok || string(class) != failureClass {
			return nil, protoErr("copyable of class %q, which is not supported", class)
		}
		var attrs Dict
		for i := 1; i < len(kids); i += 2 {
			attrs = append(attrs, Item{kids[i], kids[i+1]})
		}
		return failureFromCopyable(attrs), nil
	case "their-reference":
		return nil, protoErr("third-party references (gifts) are not supported")
	default:
		return nil, protoErr("unsupported sequence type %q", typ)
	}
	if d.refs == nil {
		d.refs = map[uint64]container{}
	}
	d.refs[number] = container{v, d.items - start}
	return v, nil
}
