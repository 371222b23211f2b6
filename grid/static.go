package grid

import (
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
)

// StaticServers reads private/servers.yaml: storage servers named by id,
// each with the announcement to use in place of an introducer's:
//
//	storage:
//	  v0-<52 base32>:
//	    ann:
//	      nickname: ...
//	      anonymous-storage-FURL: pb://...
//	      anonymous-storage-NURLs: [ "pb://...#v=1" ]
//	      permutation-seed-base32: ...
//
// A missing file means no static servers.
func StaticServers(path string) (map[string]Announcement, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseStaticServers(path, data)
}

// ParseStaticServers parses the contents of a servers.yaml; name is used in errors.
func ParseStaticServers(name string, data []byte) (map[string]Announcement, error) {
	var doc struct {
		Storage map[string]struct {
			Ann         map[string]any `yaml:"ann"`
			Connections map[string]any `yaml:"connections"`
		} `yaml:"storage"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out := map[string]Announcement{}
	for id, s := range doc.Storage {
		if s.Ann == nil {
			return nil, fmt.Errorf("%s: server %s has no ann", name, id)
		}
		a, err := AnnouncementFromMap(s.Ann)
		if err != nil {
			return nil, fmt.Errorf("%s: server %s: %w", name, id, err)
		}
		out[id] = a
	}
	return out, nil
}

// AnnouncementFromMap takes the broker's fields out of an announcement
// dictionary (from JSON or YAML).
func AnnouncementFromMap(m map[string]any) (Announcement, error) {
	str := func(k string) (string, error) {
		v, ok := m[k]
		if !ok || v == nil {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("%s is %T, not a string", k, v)
		}
		return s, nil
	}
	var a Announcement
	var err error
	if a.Nickname, err = str("nickname"); err != nil {
		return a, err
	}
	if a.FURL, err = str("anonymous-storage-FURL"); err != nil {
		return a, err
	}
	if a.PermutationSeed, err = str("permutation-seed-base32"); err != nil {
		return a, err
	}
	if a.Version, err = str("my-version"); err != nil {
		return a, err
	}
	switch v := m["anonymous-storage-NURLs"].(type) {
	case nil:
	case []any:
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return a, fmt.Errorf("anonymous-storage-NURLs holds a %T", x)
			}
			a.NURLs = append(a.NURLs, s)
		}
	case []string:
		a.NURLs = v
	default:
		return a, fmt.Errorf("anonymous-storage-NURLs is %T, not a list", v)
	}
	switch v := m["seqnum"].(type) {
	case int:
		a.Seqnum = int64(v)
	case int64:
		a.Seqnum = v
	case float64:
		a.Seqnum = int64(v)
	}
	a.Raw = m
	return a, nil
}
