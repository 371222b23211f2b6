package introducer

// The announcement cache: Tahoe's private/introducer_<petname>_cache.yaml
// (introducer/client.py _save_announcements and _load_announcements). It is
// a YAML list of mappings {ann: <announcement>, key_s: <server id>}, which
// Tahoe writes with PyYAML's safe_dump and reads with safe_load. PyYAML
// speaks YAML 1.1, so plain scalars are resolved here by PyYAML's rules
// (yaml/resolver.py), not by the YAML 1.2 rules of go.yaml.in/yaml/v3: a
// plain 0b101 is an int and a plain 1e3 a string. Values come back as
// encoding/json would give them (float64, string, bool, nil, []any,
// map[string]any), because an announcement is JSON to begin with.

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/lafs/lafs"
)

const (
	// maxCacheSize bounds the announcement cache file we read. Tahoe's are
	// about 700 bytes per server.
	maxCacheSize = 64 << 20

	// maxCacheDepth bounds the nesting of a cached value; announcements
	// are three levels deep.
	maxCacheDepth = 64
)

// cachedAnnouncement is one entry of an introducer's announcement cache.
type cachedAnnouncement struct {
	ServerID string       // key_s
	Ann      Announcement // ann
}

// errCacheTooComplex rejects a cache whose aliases expand to far more
// values than the file holds.
var errCacheTooComplex = errors.New("too many values (alias expansion)")

// errCacheValue marks a value that is not one JSON could express, or that
// PyYAML would not load as one; the entry holding it is skipped.
var errCacheValue = errors.New("not a JSON value")

// readAnnouncementCache reads the cache file; a missing file gives (nil,
// nil). Entries that are malformed (not a mapping, key_s not a "v0-" server
// id, ann not a mapping with a string service-name) are skipped and counted
// in skipped; a file that is not a YAML list is an error naming the file.
func readAnnouncementCache(path string) (entries []cachedAnnouncement, skipped int, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("announcement cache: %w", err)
	}
	defer f.Close()
	tooLarge := fmt.Errorf("announcement cache %s: larger than %d bytes", path, maxCacheSize)
	if fi, err := f.Stat(); err == nil && fi.Size() > maxCacheSize {
		return nil, 0, tooLarge
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCacheSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("announcement cache: %w", err)
	}
	if len(data) > maxCacheSize {
		return nil, 0, tooLarge
	}
	return parseAnnouncementCache(path, data)
}

// parseAnnouncementCache parses the contents of a cache file; name is the
// file's name, for errors.
func parseAnnouncementCache(name string, data []byte) (entries []cachedAnnouncement, skipped int, err error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("announcement cache %s: "+format, append([]any{name}, args...)...)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, 0, fail("empty, not a list")
	} else if err != nil {
		return nil, 0, fail("%w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, 0, fail("more than one YAML document")
	} else if !errors.Is(err, io.EOF) {
		return nil, 0, fail("%w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, 0, fail("not a list")
	}
	top := doc.Content[0]
	if top.Kind != yaml.SequenceNode || top.Tag != "!!seq" {
		return nil, 0, fail("not a list")
	}
	d := cacheDecoder{budget: 2*len(data) + 1024}
	for _, item := range top.Content {
		e, ok, err := d.entry(item)
		if err != nil {
			return nil, 0, fail("%w", err)
		}
		if !ok {
			skipped++
			continue
		}
		entries = append(entries, e)
	}
	return entries, skipped, nil
}

// cacheDecoder turns YAML nodes into JSON-like values. budget is the number
// of nodes it may still visit, so that aliases cannot multiply the work.
type cacheDecoder struct {
	budget int
}

// entry decodes one item of the list. It reports ok false for a malformed
// item; the only error is errCacheTooComplex.
func (d *cacheDecoder) entry(n *yaml.Node) (e cachedAnnouncement, ok bool, err error) {
	n = cacheDeref(n)
	if n == nil || n.Kind != yaml.MappingNode || n.Tag != "!!map" {
		return e, false, nil
	}
	var keyNode, annNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := cacheDeref(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			continue // Tahoe looks up only key_s and ann
		}
		name, err := cacheScalar(k)
		if err != nil {
			return e, false, nil // a merge key, say: PyYAML would build a different mapping
		}
		switch name {
		case "key_s":
			keyNode = n.Content[i+1]
		case "ann":
			annNode = n.Content[i+1]
		}
	}
	if keyNode == nil || annNode == nil {
		return e, false, nil
	}
	kv, err := d.value(keyNode, 0)
	if err != nil {
		return e, false, cacheFatal(err)
	}
	key, _ := kv.(string)
	if !validCacheServerID(key) {
		return e, false, nil
	}
	av, err := d.value(annNode, 0)
	if err != nil {
		return e, false, cacheFatal(err)
	}
	ann, isMap := av.(map[string]any)
	if !isMap {
		return e, false, nil
	}
	if _, isStr := ann["service-name"].(string); !isStr {
		return e, false, nil
	}
	return cachedAnnouncement{ServerID: key, Ann: Announcement(ann)}, true, nil
}

// cacheFatal keeps errCacheTooComplex and drops the errors that only make
// an entry malformed.
func cacheFatal(err error) error {
	if errors.Is(err, errCacheTooComplex) {
		return err
	}
	return nil
}

// validCacheServerID reports whether s is "v0-" and the base32 of an
// Ed25519 public key.
func validCacheServerID(s string) bool {
	rest, ok := strings.CutPrefix(s, "v0-")
	if !ok {
		return false
	}
	_, err := lafs.ParseBase32Len(rest, ed25519.PublicKeySize)
	return err == nil
}

// cacheDeref follows aliases; it returns nil for an alias chain that does
// not end.
func cacheDeref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > maxCacheDepth {
			return nil
		}
		n = n.Alias
	}
	return n
}

// value decodes n into the value encoding/json would give for the same
// data.
func (d *cacheDecoder) value(n *yaml.Node, depth int) (any, error) {
	d.budget--
	if d.budget < 0 {
		return nil, errCacheTooComplex
	}
	if depth > maxCacheDepth {
		return nil, errCacheValue
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, errCacheValue
		}
		return d.value(n.Alias, depth+1)
	case yaml.ScalarNode:
		return cacheScalar(n)
	case yaml.SequenceNode:
		if n.Tag != "!!seq" {
			return nil, errCacheValue
		}
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := d.value(c, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		if n.Tag != "!!map" {
			return nil, errCacheValue
		}
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, err := d.value(n.Content[i], depth+1)
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, errCacheValue
			}
			v, err := d.value(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			out[ks] = v // the last of duplicate keys wins, as in PyYAML
		}
		return out, nil
	}
	return nil, errCacheValue
}

// cacheScalar decodes a scalar as PyYAML's safe_load would, giving numbers
// as float64. Timestamps, binary, merge keys, infinities and NaN, which
// JSON cannot carry, are errCacheValue.
func cacheScalar(n *yaml.Node) (any, error) {
	tag := n.Tag
	if n.Style&yaml.TaggedStyle == 0 {
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			tag = "!!str"
		} else {
			tag = pyResolve(n.Value)
		}
	}
	switch tag {
	case "!!str":
		return n.Value, nil
	case "!!null":
		return nil, nil
	case "!!bool":
		switch strings.ToLower(n.Value) {
		case "yes", "true", "on":
			return true, nil
		case "no", "false", "off":
			return false, nil
		}
	case "!!int":
		return pyParseInt(n.Value)
	case "!!float":
		return pyParseFloat(n.Value, n.Style&yaml.TaggedStyle != 0)
	}
	return nil, errCacheValue
}

// PyYAML's implicit resolvers (YAML 1.1), anchored as re.match with "$".
var (
	pyNullRE  = regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)
	pyBoolRE  = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	pyIntRE   = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	pyFloatRE = regexp.MustCompile(`^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	pyTimeRE  = regexp.MustCompile(`^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$`)

	// pyFloatTaggedRE matches the other decimal floats of Python's float().
	pyFloatTaggedRE = regexp.MustCompile(`^[-+]?[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?$`)

	// jsonIntRE matches the integers encoding/json writes.
	jsonIntRE = regexp.MustCompile(`^-?[0-9]+$`)
)

// pyResolve returns the tag PyYAML gives the plain scalar s.
func pyResolve(s string) string {
	switch {
	case pyNullRE.MatchString(s):
		return "!!null"
	case pyBoolRE.MatchString(s):
		return "!!bool"
	case pyIntRE.MatchString(s):
		return "!!int"
	case pyFloatRE.MatchString(s):
		return "!!float"
	case pyTimeRE.MatchString(s):
		return "!!timestamp"
	case s == "<<":
		return "!!merge"
	case s == "=":
		return "!!value"
	}
	return "!!str"
}

// pyParseInt parses a YAML 1.1 int as PyYAML's construct_yaml_int does:
// underscores ignored; 0b binary, 0x hex, leading 0 octal, a:b:c base 60.
func pyParseInt(s string) (any, error) {
	if !pyIntRE.MatchString(s) {
		return nil, errCacheValue
	}
	s = strings.ReplaceAll(s, "_", "")
	neg := false
	switch s[0] {
	case '-':
		neg = true
		s = s[1:]
	case '+':
		s = s[1:]
	}
	z := new(big.Int)
	ok := true
	switch {
	case s == "0":
	case strings.HasPrefix(s, "0b"):
		_, ok = z.SetString(s[2:], 2)
	case strings.HasPrefix(s, "0x"):
		_, ok = z.SetString(s[2:], 16)
	case strings.Contains(s, ":"):
		for _, part := range strings.Split(s, ":") {
			var p big.Int
			if _, ok = p.SetString(part, 10); !ok {
				break
			}
			z.Mul(z, big.NewInt(60))
			z.Add(z, &p)
		}
	case s[0] == '0':
		_, ok = z.SetString(s[1:], 8)
	default:
		_, ok = z.SetString(s, 10)
	}
	if !ok {
		return nil, errCacheValue
	}
	f, _ := new(big.Float).SetInt(z).Float64() // rounds to nearest, as strconv does
	if math.IsInf(f, 0) {
		return nil, errCacheValue
	}
	if neg {
		f = -f
	}
	return f, nil
}

// pyParseFloat parses a YAML 1.1 float as PyYAML's construct_yaml_float
// does; a float tagged explicitly may also be a decimal float without a
// '.', such as "17" or "1e3", as Python's float() accepts it. Infinities
// and NaN are refused: JSON has no spelling for them.
func pyParseFloat(s string, tagged bool) (any, error) {
	if !pyFloatRE.MatchString(s) && !(tagged && pyFloatTaggedRE.MatchString(s)) {
		return nil, errCacheValue
	}
	s = strings.ToLower(strings.ReplaceAll(s, "_", ""))
	sign := 1.0
	switch s[0] {
	case '-':
		sign = -1
		s = s[1:]
	case '+':
		s = s[1:]
	}
	var f float64
	if strings.Contains(s, ":") {
		base := 1.0
		parts := strings.Split(s, ":")
		for i := len(parts) - 1; i >= 0; i-- {
			p, err := strconv.ParseFloat(parts[i], 64)
			if err != nil {
				return nil, errCacheValue
			}
			f += p * base
			base *= 60
		}
	} else {
		var err error
		if f, err = strconv.ParseFloat(s, 64); err != nil {
			return nil, errCacheValue // .inf, .nan, or out of range
		}
	}
	f *= sign
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, errCacheValue
	}
	return f, nil
}

// writeAnnouncementCache replaces the file atomically (temp file in the
// same dir, fsync, rename), mode 0600, sorted by server id so the output is
// stable.
func writeAnnouncementCache(path string, entries []cachedAnnouncement) error {
	data, err := marshalAnnouncementCache(entries)
	if err != nil {
		return fmt.Errorf("announcement cache %s: %w", path, err)
	}
	if err := writeCacheFile(path, data); err != nil {
		return fmt.Errorf("announcement cache: %w", err)
	}
	return nil
}

// marshalAnnouncementCache renders entries as Tahoe's cache file, sorted by
// server id and then service name, with mapping keys sorted as safe_dump
// sorts them. Every announcement goes through encoding/json first, so what
// is written is what Tahoe would have decoded from the announcement's JSON.
func marshalAnnouncementCache(entries []cachedAnnouncement) ([]byte, error) {
	sorted := slices.Clone(entries)
	slices.SortStableFunc(sorted, func(a, b cachedAnnouncement) int {
		if c := strings.Compare(a.ServerID, b.ServerID); c != 0 {
			return c
		}
		return strings.Compare(a.Ann.String("service-name"), b.Ann.String("service-name"))
	})
	list := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for i, e := range sorted {
		if !utf8.ValidString(e.ServerID) {
			return nil, fmt.Errorf("entry %d: server id is not UTF-8", i)
		}
		ann, err := cacheAnnNode(e.Ann)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		list.Content = append(list.Content, &yaml.Node{
			Kind: yaml.MappingNode,
			Tag:  "!!map",
			Content: []*yaml.Node{
				pyStringNode("ann"), ann,
				pyStringNode("key_s"), pyStringNode(e.ServerID),
			},
		})
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(list); err != nil {
		return nil, fmt.Errorf("encoding YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding YAML: %w", err)
	}
	return buf.Bytes(), nil
}

// cacheAnnNode renders an announcement, by way of its JSON.
func cacheAnnNode(a Announcement) (*yaml.Node, error) {
	b, err := json.Marshal(map[string]any(a))
	if err != nil {
		return nil, fmt.Errorf("announcement: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("announcement: %w", err)
	}
	return pyNode(v)
}

// pyNode renders a value decoded by encoding/json with UseNumber so that
// PyYAML loads it back as Python's json module would have decoded it.
func pyNode(v any) (*yaml.Node, error) {
	switch v := v.(type) {
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}, nil
	case string:
		return pyStringNode(v), nil
	case json.Number:
		return pyNumberNode(v)
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, x := range v {
			c, err := pyNode(x)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, c)
		}
		return n, nil
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys) // UTF-8 byte order is code point order, as Python sorts
		for _, k := range keys {
			c, err := pyNode(v[k])
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, pyStringNode(k), c)
		}
		return n, nil
	}
	return nil, fmt.Errorf("cannot write a %T", v)
}

// pyStringNode renders a string, quoted when PyYAML would otherwise read it
// as something else ("yes", "0b1", "1_000", "2001-12-14"). The encoder
// quotes what YAML 1.2 would misread by itself.
func pyStringNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if pyResolve(s) != "!!str" {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// pyNumberNode renders a JSON number: integers as YAML ints, as Python
// writes them, and other numbers in a float form that YAML 1.1 recognizes
// (it wants a '.': "1.0e+21", not "1e+21").
func pyNumberNode(num json.Number) (*yaml.Node, error) {
	s := string(num)
	if jsonIntRE.MatchString(s) {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: s}, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("number %q out of range", s)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(int64(f), 10)}, nil
	}
	s = strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.Contains(s, ".") {
		if i := strings.IndexByte(s, 'e'); i >= 0 {
			s = s[:i] + ".0" + s[i:]
		} else {
			s += ".0"
		}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: s}, nil
}

// writeCacheFile replaces path with data: a temporary file beside it,
// written, made mode 0600 and synced, then renamed over it. The directory
// is synced afterwards on a best-effort basis.
func writeCacheFile(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync() // some file systems refuse to sync a directory
		d.Close()
	}
	return nil
}
