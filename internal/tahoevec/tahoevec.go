// Package tahoevec loads the shared Tahoe-LAFS vector files for tests:
// test_vectors.yaml (capability vectors) and tahoe120_grid.json (what a live
// Tahoe 1.20 grid wrote), with helpers to rebuild plaintexts and unwrap
// share containers.
package tahoevec

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/lafs/lafs/internal/vectors"
)

// Case is one capability vector of test_vectors.yaml.
type Case struct {
	Index       int
	Convergence []byte
	Expected    string
	Kind        string // "chk" or "ssk"
	Format      string // "sdmf" or "mdmf" for ssk
	KeyPEM      string
	Seed        []byte
	Length      int
	K, N        int
	SegmentSize int
}

// Plaintext rebuilds the case's plaintext: the seed repeated, cut to length.
func (c Case) Plaintext() []byte {
	return bytes.Repeat(c.Seed, c.Length/len(c.Seed)+1)[:c.Length]
}

// Cases loads test_vectors.yaml.
func Cases(t testing.TB) []Case {
	t.Helper()
	var file struct {
		Version string `yaml:"version"`
		Vector  []struct {
			Convergence string `yaml:"convergence"`
			Expected    string `yaml:"expected"`
			Format      struct {
				Kind   string `yaml:"kind"`
				Params *struct {
					Format string `yaml:"format"`
					Key    string `yaml:"key"`
				} `yaml:"params"`
			} `yaml:"format"`
			Sample struct {
				Length int    `yaml:"length"`
				Seed   string `yaml:"seed"`
			} `yaml:"sample"`
			Zfec struct {
				Required    int `yaml:"required"`
				Total       int `yaml:"total"`
				SegmentSize int `yaml:"segmentSize"`
			} `yaml:"zfec"`
		} `yaml:"vector"`
	}
	if err := yaml.Unmarshal(vectors.Read(t, "test_vectors.yaml"), &file); err != nil {
		t.Fatalf("test_vectors.yaml: %v", err)
	}
	var out []Case
	for i, v := range file.Vector {
		conv, err1 := base64.StdEncoding.DecodeString(v.Convergence)
		seed, err2 := base64.StdEncoding.DecodeString(v.Sample.Seed)
		if err1 != nil || err2 != nil {
			t.Fatalf("vector %d: bad base64", i)
		}
		c := Case{Index: i, Convergence: conv, Expected: v.Expected, Kind: v.Format.Kind,
			Seed: seed, Length: v.Sample.Length, K: v.Zfec.Required, N: v.Zfec.Total, SegmentSize: v.Zfec.SegmentSize}
		if p := v.Format.Params; p != nil {
			c.Format, c.KeyPEM = p.Format, p.Key
		}
		out = append(out, c)
	}
	return out
}

// GridShare is one share container that the Tahoe 1.20 grid stored.
type GridShare struct {
	Server    string `json:"server"`
	ShNum     int    `json:"shnum"`
	Path      string `json:"path"`
	Container []byte `json:"container_b64"`
}

// GridObject is one object of tahoe120_grid.json.
type GridObject struct {
	Kind         string          `json:"kind"`
	Note         string          `json:"note"`
	Cap          string          `json:"cap"`
	ReadonlyCap  string          `json:"readonly_cap"`
	StorageIndex string          `json:"storage_index"`
	DumpCap      string          `json:"dump_cap"`
	Plaintext    []byte          `json:"plaintext_b64"`
	PlaintextSHA string          `json:"plaintext_sha256"`
	Previous     []byte          `json:"previous_plaintext_b64"`
	TJSON        json.RawMessage `json:"t_json"`
	SubdirTJSON  json.RawMessage `json:"subdir_t_json"`
	Shares       []GridShare     `json:"shares"`
}

// Grid is tahoe120_grid.json.
type Grid struct {
	MadeBy         string       `json:"made_by"`
	ConvergenceB32 string       `json:"client_convergence_b32"`
	LeaseSecretB32 string       `json:"client_lease_secret_b32"`
	Objects        []GridObject `json:"objects"`
}

var (
	gridOnce sync.Once
	grid     *Grid
	gridErr  error
)

// LoadGrid loads tahoe120_grid.json once per test binary.
func LoadGrid(t testing.TB) *Grid {
	t.Helper()
	b := vectors.Read(t, "tahoe120_grid.json")
	gridOnce.Do(func() {
		grid = new(Grid)
		gridErr = json.Unmarshal(b, grid)
	})
	if gridErr != nil {
		t.Fatalf("tahoe120_grid.json: %v", gridErr)
	}
	return grid
}

// ImmutableShareData unwraps an immutable share container (v1 or v2): a
// 12-byte header (version, length, lease count), the share data, then
// 72-byte leases. The share data ends where the leases begin.
func ImmutableShareData(container []byte) ([]byte, error) {
	if len(container) < 12 {
		return nil, fmt.Errorf("container of %d bytes", len(container))
	}
	v := binary.BigEndian.Uint32(container)
	if v != 1 && v != 2 {
		return nil, fmt.Errorf("container version %d", v)
	}
	leases := int(binary.BigEndian.Uint32(container[8:]))
	end := len(container) - 72*leases
	if end < 12 {
		return nil, fmt.Errorf("%d leases do not fit", leases)
	}
	return container[12:end], nil
}
