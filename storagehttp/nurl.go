package storagehttp

import "github.com/lafs/lafs/nurl"

// NURL locates a storage server and pins its certificate (package nurl).
type NURL = nurl.NURL

// ErrNURL is nurl.ErrNURL: it is wrapped by the errors for a malformed
// NURL or pin.
var ErrNURL = nurl.ErrNURL

// ErrPin is nurl.ErrPin: it is wrapped by the error of a connection
// refused because the server's certificate is not the one its NURL pins.
var ErrPin = nurl.ErrPin

// ParseNURL is nurl.Parse.
func ParseNURL(s string) (NURL, error) { return nurl.Parse(s) }
