package foolscap

import (
	"context"
	"fmt"
	"strings"
)

// Values are Python values as Go types: nil is None, bool, int64 (or
// *big.Int outside int64), float64, []byte (Python bytes), string (Python
// str), List, Tuple, Set, Dict, *RemoteRef (an object of the peer), an
// Object of ours, and *Failure (a remote exception).
type (
	// List is a Python list.
	List []any
	// Tuple is a Python tuple.
	Tuple []any
	// Set is a Python set or frozenset. Order has no meaning.
	Set []any
	// Dict is a Python dict, in the order it arrived or is to be sent.
	Dict []Item
)

// Item is one key and value of a Dict.
type Item struct {
	Key, Value any
}

// Get returns the value of key in d. A string key matches a []byte key
// with the same bytes and the other way round, since Tahoe's dicts use
// bytes keys.
func (d Dict) Get(key any) (any, bool) {
	for _, it := range d {
		if sameKey(it.Key, key) {
			return it.Value, true
		}
	}
	return nil, false
}

// sameKey reports whether two hashable values are the same dict key.
func sameKey(a, b any) bool {
	as, aText := asText(a)
	bs, bText := asText(b)
	if aText || bText {
		return aText && bText && as == bs
	}
	switch a := a.(type) {
	case int64:
		b, ok := b.(int64)
		return ok && a == b
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	case nil:
		return b == nil
	case Tuple:
		b, ok := b.(Tuple)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !sameKey(a[i], b[i]) {
				return false
			}
		}
		return true
	}
	return false
}

func asText(v any) (string, bool) {
	switch v := v.(type) {
	case []byte:
		return string(v), true
	case string:
		return v, true
	}
	return "", false
}

// Bytes returns v as bytes if it is []byte or string.
func Bytes(v any) ([]byte, bool) {
	switch v := v.(type) {
	case []byte:
		return v, true
	case string:
		return []byte(v), true
	}
	return nil, false
}

// Items returns the members of a List, Tuple or Set.
func Items(v any) ([]any, bool) {
	switch v := v.(type) {
	case List:
		return v, true
	case Tuple:
		return v, true
	case Set:
		return v, true
	}
	return nil, false
}

// Failure is an exception raised on the other side of a call: Twisted's
// Failure as Foolscap copies it. It is the error of a RemoteRef.Call that
// the peer answered with an error, and an Object's method may return one
// to choose what the caller sees.
type Failure struct {
	// Type is the exception's qualified class name, such as
	// "foolscap.tokens.Violation".
	Type string
	// Value is the exception as text.
	Value string
	// Traceback is the remote traceback, if the peer sent one.
	Traceback string
	// Parents are the class names of its base classes.
	Parents []string
}

// Error implements error.
func (f *Failure) Error() string {
	return "remote exception " + f.Type + ": " + f.Value
}

// failureClass is the class name of a Failure on the wire.
const failureClass = "twisted.python.failure.Failure"

// Limits of what a Failure carries, as Foolscap's receivers constrain them.
const (
	maxFailureType      = 200
	maxFailureValue     = 1000
	maxFailureTraceback = 2000
	maxFailureParents   = 20
)

// failureFromCopyable builds a Failure from a copyable's attributes.
func failureFromCopyable(attrs Dict) *Failure {
	f := &Failure{}
	text := func(k string, max int) string {
		v, _ := attrs.Get(k)
		b, _ := Bytes(v)
		if len(b) > max {
			b = b[:max]
		}
		return strings.ToValidUTF8(string(b), "?")
	}
	f.Type, f.Value, f.Traceback = text("type", maxFailureType), text("value", maxFailureValue), text("traceback", maxFailureTraceback)
	if p, ok := attrs.Get("parents"); ok {
		items, _ := Items(p)
		for _, it := range items {
			if b, ok := Bytes(it); ok && len(f.Parents) < maxFailureParents {
				f.Parents = append(f.Parents, strings.ToValidUTF8(string(b[:min(len(b), maxFailureType)]), "?"))
			}
		}
	}
	return f
}

// errorToFailure turns an Object's error into what the caller sees.
func errorToFailure(err error) *Failure {
	if f, ok := err.(*Failure); ok {
		return f
	}
	return &Failure{
		Type:    "builtins.Exception",
		Value:   err.Error(),
		Parents: []string{"builtins.Exception", "builtins.BaseException", "builtins.object"},
	}
}

// violation is the Failure Foolscap sends for a call that breaks a schema
// or names no such object or method.
func violation(format string, args ...any) *Failure {
	return &Failure{
		Type:    "foolscap.tokens.Violation",
		Value:   "Violation: " + fmt.Sprintf(format, args...),
		Parents: []string{"foolscap.tokens.Violation", "builtins.Exception", "builtins.BaseException", "builtins.object"},
	}
}

// Object is something of ours that a peer can call: an introducer, a
// subscriber, a canary. Pass it as a value in a call or answer and the
// peer receives a reference to it. RemoteInterface names the interface the
// peer's schemas check (Tahoe checks the subscriber's); "" is allowed.
// RemoteCall runs one method; it is called from one goroutine per
// connection in the order the calls arrive, so it must not wait on an
// answer from the same connection. Its error reaches the caller as a
// Failure (return a *Failure to choose type and text).
type Object interface {
	RemoteInterface() string
	RemoteCall(ctx context.Context, call *Call) (any, error)
}

// Call is one inbound method call.
type Call struct {
	// Conn is the connection the call came on.
	Conn *Conn
	// Method is the method's name.
	Method string
	// Args and Kwargs are the positional and keyword arguments.
	Args   []any
	Kwargs map[string]any
}

// Arg returns the argument at position i, or else the keyword argument
// name (Tahoe passes positional arguments, Python's foolscap keyword ones
// to named parameters, so an Object accepts both).
func (c *Call) Arg(i int, name string) (any, bool) {
	if i < len(c.Args) {
		return c.Args[i], true
	}
	v, ok := c.Kwargs[name]
	return v, ok
}

// CheckArgs fails with a Violation unless the call has exactly the named
// parameters, each given once, by position or by name.
func (c *Call) CheckArgs(names ...string) error {
	if len(c.Args) > len(names) {
		return violation("%s takes %d arguments, got %d positional", c.Method, len(names), len(c.Args))
	}
	for k := range c.Kwargs {
		i := -1
		for j, n := range names {
			if n == k {
				i = j
			}
		}
		if i < 0 {
			return violation("%s has no argument %q", c.Method, k)
		}
		if i < len(c.Args) {
			return violation("%s got argument %q twice", c.Method, k)
		}
	}
	for i, n := range names {
		if _, ok := c.Arg(i, n); !ok {
			return violation("%s is missing argument %q", c.Method, n)
		}
	}
	return nil
}
