package storagehttp

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Headers and media types of the protocol.
const (
	headerAuthorization = "Authorization"
	headerSecret        = "X-Tahoe-Authorization"
	authScheme          = "Tahoe-LAFS"
	mediaCBOR           = "application/cbor"
	mediaOctetStream    = "application/octet-stream"
)

// swissnumAuth is the Authorization value for a swissnum:
// "Tahoe-LAFS " + standard base64, as http_common.swissnum_auth_header.
func swissnumAuth(swissnum []byte) string {
	return authScheme + " " + base64.StdEncoding.EncodeToString(swissnum)
}

// checkAuthorization checks the first Authorization header against want in
// time independent of where they differ (and of their lengths, since both
// are hashed first, as Tahoe's timing_safe_compare does). A value that is
// not UTF-8 is a bad request, as in Tahoe; a missing or wrong one is 401.
func checkAuthorization(r *http.Request, want [32]byte) error {
	got := ""
	if v := r.Header.Values(headerAuthorization); len(v) > 0 {
		got = v[0]
	}
	if !utf8.ValidString(got) {
		return &httpError{http.StatusBadRequest, "bad Authorization header"}
	}
	h := sha256.Sum256([]byte(got))
	if subtle.ConstantTimeCompare(h[:], want[:]) != 1 {
		return &httpError{http.StatusUnauthorized, "wrong Authorization header"}
	}
	return nil
}

// secretKind names one kind of X-Tahoe-Authorization secret.
type secretKind int

const (
	secretLeaseRenew secretKind = iota
	secretLeaseCancel
	secretUpload
	secretWriteEnabler
	numSecretKinds
)

// secretNames are the kinds as they appear on the wire, in the order
// Tahoe's client sends them.
var secretNames = [numSecretKinds]string{
	"lease-renew-secret",
	"lease-cancel-secret",
	"upload-secret",
	"write-enabler",
}

// secretSet is a set of secret kinds, one bit per kind.
type secretSet uint8

func setOf(kinds ...secretKind) secretSet {
	var s secretSet
	for _, k := range kinds {
		s |= 1 << k
	}
	return s
}

// secrets holds the decoded secrets of a request, indexed by kind.
type secrets [numSecretKinds][]byte

// extractSecrets decodes X-Tahoe-Authorization values as Tahoe's
// _extract_secrets does: each is "<kind> <base64>" (split at the first
// space after trimming), the base64 decoded leniently as Python's
// b64decode does, no value empty, lease secrets 32 bytes; a later value of
// a kind replaces an earlier one; the kinds present must be exactly
// required. We also require a write enabler of 32 bytes, since that is
// what lafs.Secret holds (Tahoe's client always sends 32).
func extractSecrets(values []string, required secretSet) (secrets, error) {
	var out secrets
	var have secretSet
	for _, hv := range values {
		kindName, enc, ok := strings.Cut(strings.TrimSpace(hv), " ")
		if !ok {
			return out, fmt.Errorf("bad %s header value %q", headerSecret, hv)
		}
		kind := secretKind(slices.Index(secretNames[:], kindName))
		if kind < 0 {
			return out, fmt.Errorf("unknown secret kind %q", kindName)
		}
		v, err := pyB64Decode(enc)
		if err != nil {
			return out, fmt.Errorf("secret %s: %v", kindName, err)
		}
		if len(v) == 0 {
			return out, fmt.Errorf("failed to decode secret %s", kindName)
		}
		switch kind {
		case secretLeaseRenew, secretLeaseCancel, secretWriteEnabler:
			if len(v) != 32 {
				return out, fmt.Errorf("secret %s must be 32 bytes long, not %d", kindName, len(v))
			}
		}
		out[kind] = v
		have |= 1 << kind
	}
	if have != required {
		return out, fmt.Errorf("expected secrets %s in %s headers, got %s", required, headerSecret, have)
	}
	return out, nil
}

func (s secretSet) String() string {
	var names []string
	for k := range numSecretKinds {
		if s&(1<<k) != 0 {
			names = append(names, secretNames[k])
		}
	}
	return "[" + strings.Join(names, ", ") + "]"
}

// pyB64Decode decodes base64 as Python's base64.b64decode(s) (validate
// False) does: the input must be ASCII; characters outside the standard
// alphabet are skipped; decoding stops at the padding that completes a
// quantum; leftover bits of one character, or of two or three without
// their padding, are an error.
func pyB64Decode(s string) ([]byte, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	out := make([]byte, 0, len(s)*3/4)
	var acc byte
	quad, pads, data := 0, 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return nil, fmt.Errorf("non-ASCII character in base64")
		}
		if c == '=' {
			if quad >= 2 {
				pads++
				if quad+pads >= 4 {
					return out, nil
				}
			}
			continue
		}
		v := strings.IndexByte(alphabet, c)
		if v < 0 {
			continue
		}
		pads = 0
		data++
		b := byte(v)
		switch quad {
		case 0:
			acc = b
		case 1:
			out = append(out, acc<<2|b>>4)
			acc = b & 0x0f
		case 2:
			out = append(out, acc<<4|b>>2)
			acc = b & 0x03
		case 3:
			out = append(out, acc<<6|b)
		}
		quad = (quad + 1) % 4
	}
	switch quad {
	case 0:
		return out, nil
	case 1:
		return nil, fmt.Errorf("invalid base64: %d data characters is 1 more than a multiple of 4", data)
	default:
		return nil, fmt.Errorf("incorrect base64 padding")
	}
}

// requestMediaType is the media type of a request body, from its first
// Content-Type (parameters dropped); no type at all means CBOR, as in
// Tahoe's read_encoded.
func requestMediaType(h http.Header) string {
	v := h.Values("Content-Type")
	if len(v) == 0 {
		return mediaCBOR
	}
	t, _, _ := strings.Cut(v[0], ";")
	if t = strings.TrimSpace(t); t == "" {
		return mediaCBOR
	}
	return t
}

// acceptsCBOR reports whether a request lets us answer in CBOR, deciding as
// Tahoe's _send_encoded does: no Accept header means CBOR; otherwise the
// first Accept header's best entry (werkzeug's Accept.best: highest
// quality, "*" last, ties in order of appearance) must be exactly
// "application/cbor". So "*/*", JSON or an empty Accept get 406, since
// Tahoe speaks no JSON (ticket 3861).
func acceptsCBOR(h http.Header) bool {
	v := h.Values("Accept")
	if len(v) == 0 {
		return true
	}
	type entry struct {
		value    string
		q        float64
		specific bool
	}
	var entries []entry
	for _, item := range parseHTTPList(v[0]) {
		value, params, _ := strings.Cut(item, ";")
		value = strings.TrimSpace(value)
		q, other, ok := acceptParams(params)
		if !ok {
			continue // werkzeug ignores an entry with an invalid q
		}
		if other {
			value += ";" // some parameter we do not take: never "application/cbor"
		}
		entries = append(entries, entry{value, q, value != "*"})
	}
	if len(entries) == 0 {
		return false
	}
	slices.SortStableFunc(entries, func(a, b entry) int {
		if a.specific != b.specific {
			if a.specific {
				return -1
			}
			return 1
		}
		switch {
		case a.q > b.q:
			return -1
		case a.q < b.q:
			return 1
		}
		return 0
	})
	return entries[0].value == mediaCBOR
}

var (
	paramRE = regexp.MustCompile(`^([\w!#$%&'*+\-.^` + "`" + `|~]+)=([\w!#$%&'*+\-.^` + "`" + `|~]+|"(?:\\\\|\\"|.)*?")$`)
	qRE     = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
)

// acceptParams reads the ";k=v" parameters of an Accept entry: its quality
// (1 by default), whether it has other parameters, and false if q is
// invalid. Parts that are not k=v are skipped, as werkzeug skips them.
func acceptParams(params string) (q float64, other, ok bool) {
	q = 1
	if strings.TrimSpace(params) == "" {
		return q, false, true
	}
	for part := range strings.SplitSeq(params, ";") {
		m := paramRE.FindStringSubmatch(strings.TrimSpace(part))
		if m == nil {
			continue
		}
		if strings.ToLower(m[1]) != "q" {
			other = true
			continue
		}
		qs := strings.Trim(m[2], `"`)
		if !qRE.MatchString(strings.TrimSpace(qs)) {
			return 0, false, false
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(qs), 64)
		if err != nil || f < 0 || f > 1 {
			return 0, false, false
		}
		q = f
	}
	return q, other, true
}

// parseHTTPList splits a header at commas outside quoted strings as
// werkzeug's parse_list_header does: items trimmed, empty ones dropped,
// an item that is one quoted string unquoted, and nothing at all if a
// quoted string is left open.
func parseHTTPList(s string) []string {
	var items []string
	var item strings.Builder
	escape, quote := false, false
	for _, c := range s {
		switch {
		case escape:
			escape = false
		case quote:
			if c == '\\' {
				escape = true
			} else if c == '"' {
				quote = false
			}
		case c == ',':
			items = append(items, item.String())
			item.Reset()
			continue
		case c == '"':
			quote = true
		}
		item.WriteRune(c)
	}
	if quote {
		return nil
	}
	items = append(items, item.String())
	var out []string
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" {
			continue
		}
		if len(it) >= 2 && it[0] == '"' && it[len(it)-1] == '"' {
			it = strings.NewReplacer(`\\`, `\`, `\"`, `"`).Replace(it[1 : len(it)-1])
		}
		out = append(out, it)
	}
	return out
}
