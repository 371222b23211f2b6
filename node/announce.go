package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/lafs/lafs/introducer"
)

// announcementSeqnumFile keeps the last announcement sequence number.
const announcementSeqnumFile = "announcement-seqnum"

// nextSeqnum increments BASEDIR/announcement-seqnum, as Tahoe does at
// every publish, and returns the new value.
func nextSeqnum(basedir string) (int64, error) {
	path := filepath.Join(basedir, announcementSeqnumFile)
	var n int64
	if b, err := os.ReadFile(path); err == nil {
		n, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	}
	n++
	return n, writeFileAtomic(path, []byte(strconv.FormatInt(n, 10)+"\n"), publicFileMode)
}

// StorageAnnouncement is the announcement of this node's storage server,
// as Tahoe's client.py init_storage makes it.
func StorageAnnouncement(basedir string, cfg *Config, id *Identity, urls *ServiceURLs) (introducer.Announcement, error) {
	seed, err := LoadOrCreatePermutationSeed(basedir, id, false)
	if err != nil {
		return nil, err
	}
	seq, err := nextSeqnum(basedir)
	if err != nil {
		return nil, err
	}
	a := introducer.NewAnnouncement("storage", cfg.Node().Nickname, Version, seq)
	a["anonymous-storage-FURL"] = urls.FURL
	a["anonymous-storage-NURLs"] = urls.NURLs
	a["permutation-seed-base32"] = seed
	return a, nil
}

// ServerEntry returns the private/servers.yaml entry that lets a client
// (lafs or Tahoe 1.20) use the storage node in basedir without an
// introducer. The node must have been started once if its tub.location
// is AUTO, so that its addresses are known.
func ServerEntry(basedir string) (string, error) {
	cfg, err := ReadConfig(basedir)
	if err != nil {
		return "", err
	}
	if !cfg.Storage().Enabled || cfg.Kind() == KindIntroducer {
		return "", fmt.Errorf("%s does not run a storage server", basedir)
	}
	id, err := LoadOrCreateIdentity(basedir)
	if err != nil {
		return "", err
	}
	var hints []string
	for _, h := range cfg.Node().Location {
		if h == "AUTO" {
			hints = nil
			break
		}
		hints = append(hints, h)
	}
	var urls *ServiceURLs
	if hints != nil {
		urls, err = LoadOrCreateStorageURLs(basedir, id, hints)
	} else {
		urls, err = readStorageURLs(basedir)
	}
	if err != nil {
		return "", err
	}
	seed, err := LoadOrCreatePermutationSeed(basedir, id, false)
	if err != nil {
		return "", err
	}
	ann := map[string]any{
		"nickname":                cfg.Node().Nickname,
		"anonymous-storage-FURL":  urls.FURL,
		"anonymous-storage-NURLs": urls.NURLs,
		"permutation-seed-base32": seed,
	}
	doc := map[string]any{"storage": map[string]any{id.LongNodeID(): map[string]any{"ann": ann}}}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// readStorageURLs reads private/storage.furl and private/storage.nurl as
// a started node left them.
func readStorageURLs(basedir string) (*ServiceURLs, error) {
	furl, err := os.ReadFile(filepath.Join(basedir, "private", "storage.furl"))
	if err != nil {
		return nil, fmt.Errorf("tub.location is AUTO and the node has not run yet (start it once so its addresses are known): %w", err)
	}
	nurls, err := os.ReadFile(filepath.Join(basedir, "private", "storage.nurl"))
	if err != nil {
		return nil, err
	}
	return &ServiceURLs{FURL: strings.TrimSpace(string(furl)), NURLs: strings.Fields(string(nurls))}, nil
}
