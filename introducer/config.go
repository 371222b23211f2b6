package introducer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ReadIntroducersYAML reads private/introducers.yaml, Tahoe's list of
// introducers by petname (docs/configuration.rst, "Introducer
// Definitions"):
//
//	introducers:
//	  petname:
//	    furl: "pb://..."
//
// and returns each petname's fURL or NURL. A missing file means no
// introducers, as in Tahoe; an empty one is an error, as in Tahoe. Unlike
// Tahoe, which ignores them, unknown keys are errors naming the file and
// line.
func ReadIntroducersYAML(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseIntroducersYAML(path, data)
}

// ParseIntroducersYAML parses the contents of an introducers.yaml; name is
// used in errors.
func ParseIntroducersYAML(name string, data []byte) (map[string]string, error) {
	fail := func(n *yaml.Node, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", name, n.Line, fmt.Sprintf(format, args...))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || isNull(doc.Content[0]) {
		return nil, fmt.Errorf("%s: empty file (leave it out to use no introducer)", name)
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, fail(top, "want a mapping with the key \"introducers\"")
	}
	out := map[string]string{}
	seenTop := false
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value != "introducers" {
			return nil, fail(k, "unknown key %q (the one key is \"introducers\")", k.Value)
		}
		if seenTop {
			return nil, fail(k, "key \"introducers\" given twice")
		}
		seenTop = true
		if isNull(v) {
			continue
		}
		if v.Kind != yaml.MappingNode {
			return nil, fail(v, "introducers: want a mapping of petnames")
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			pk, pv := v.Content[j], v.Content[j+1]
			if pk.Kind != yaml.ScalarNode || pk.Tag != "!!str" {
				return nil, fail(pk, "introducer petname %q should be a string", pk.Value)
			}
			petname := pk.Value
			if err := checkPetname(petname); err != nil {
				return nil, fail(pk, "introducer petname %q: %v", petname, err)
			}
			if _, dup := out[petname]; dup {
				return nil, fail(pk, "introducer petname %q given twice", petname)
			}
			if pv.Kind != yaml.MappingNode {
				return nil, fail(pv, "introducer %q: want a mapping with the key \"furl\"", petname)
			}
			furl, has := "", false
			for m := 0; m+1 < len(pv.Content); m += 2 {
				fk, fv := pv.Content[m], pv.Content[m+1]
				if fk.Kind != yaml.ScalarNode || fk.Value != "furl" {
					return nil, fail(fk, "introducer %q: unknown key %q (the one key is \"furl\")", petname, fk.Value)
				}
				if has {
					return nil, fail(fk, "introducer %q: key \"furl\" given twice", petname)
				}
				if fv.Kind != yaml.ScalarNode || fv.Tag != "!!str" || strings.TrimSpace(fv.Value) == "" {
					return nil, fail(fv, "introducer %q: furl should be a non-empty string", petname)
				}
				furl, has = strings.TrimSpace(fv.Value), true
			}
			if !has {
				return nil, fail(pv, "introducer %q has no furl", petname)
			}
			out[petname] = furl
		}
	}
	return out, nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// checkPetname refuses petnames that cannot name a file: Tahoe keeps each
// introducer's cache in private/introducer_<petname>_cache.yaml.
func checkPetname(p string) error {
	if p == "" {
		return errors.New("empty")
	}
	if strings.ContainsAny(p, `/\`) || p == "." || p == ".." {
		return errors.New("must not contain a path separator")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return errors.New("must not contain control characters")
		}
	}
	return nil
}

// WithDeprecatedFURL adds the deprecated tahoe.cfg "[client]
// introducer.furl" to the introducers read from introducers.yaml under the
// petname "default", as Tahoe does; it is an error if introducers.yaml
// has a "default" too. An empty furl changes nothing. The map is changed
// in place and returned.
func WithDeprecatedFURL(intros map[string]string, furl string) (map[string]string, error) {
	furl = strings.TrimSpace(furl)
	if furl == "" {
		return intros, nil
	}
	if furl == "None" {
		return intros, errors.New("tahoe.cfg has invalid 'introducer.furl = None': to disable it omit the key entirely")
	}
	if intros == nil {
		intros = map[string]string{}
	}
	if _, ok := intros["default"]; ok {
		return intros, errors.New("'default' introducer furl cannot be specified in tahoe.cfg and introducers.yaml; please fix impossible configuration")
	}
	intros["default"] = furl
	return intros, nil
}
