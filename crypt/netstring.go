package crypt

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrNetstring is wrapped by every netstring parsing error.
var ErrNetstring = errors.New("invalid netstring")

// Netstring returns s framed as a netstring: decimal length, ':', s, ','.
func Netstring(s []byte) []byte {
	return AppendNetstring(nil, s)
}

// AppendNetstring appends the netstring of s to dst.
func AppendNetstring(dst, s []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ':')
	dst = append(dst, s...)
	return append(dst, ',')
}

// ParseNetstring reads one netstring from the front of b and returns its
// contents and the bytes after it. The contents alias b.
func ParseNetstring(b []byte) (contents, rest []byte, err error) {
	colon := -1
	for i := 0; i < len(b) && i < 20; i++ {
		if b[i] == ':' {
			colon = i
			break
		}
		if b[i] < '0' || b[i] > '9' {
			return nil, nil, fmt.Errorf("%w: bad length digit %q", ErrNetstring, b[i])
		}
	}
	if colon <= 0 {
		return nil, nil, fmt.Errorf("%w: no length prefix", ErrNetstring)
	}
	if colon > 1 && b[0] == '0' {
		return nil, nil, fmt.Errorf("%w: leading zero in length", ErrNetstring)
	}
	n, err := strconv.ParseUint(string(b[:colon]), 10, 63)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: length: %v", ErrNetstring, err)
	}
	body := b[colon+1:]
	if uint64(len(body)) < n+1 {
		return nil, nil, fmt.Errorf("%w: length %d runs past the end (%d bytes left)", ErrNetstring, n, len(body))
	}
	if body[n] != ',' {
		return nil, nil, fmt.Errorf("%w: missing ',' after %d bytes", ErrNetstring, n)
	}
	return body[:n:n], body[n+1:], nil
}
