package node

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/internal/s3test"
)

const testS3Secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"

func s3CreateOptions() CreateOptions {
	return CreateOptions{
		WebPort:           "none",
		Hostname:          "127.0.0.1",
		StorageBackend:    BackendS3,
		S3:                S3Config{Endpoint: "https://s3.example.com", Bucket: "lafs-shares", Prefix: "node1/", PathStyle: true},
		S3AccessKeyID:     "AKIDEXAMPLE",
		S3SecretAccessKey: testS3Secret,
	}
}

// TestCreateS3Node: create-node for an S3 backend writes the bucket's
// settings into [storage], the credentials and the seal key into private/
// (0600), and the secret nowhere else; the result loads.
func TestCreateS3Node(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s3node")
	if err := Create(dir, s3CreateOptions()); err != nil {
		t.Fatal(err)
	}
	cfgText := readFile(t, filepath.Join(dir, "tahoe.cfg"))
	for _, line := range []string{
		"\nbackend = s3\n", "\ns3.endpoint = https://s3.example.com\n", "\ns3.region = us-east-1\n",
		"\ns3.bucket = lafs-shares\n", "\ns3.prefix = node1/\n", "\ns3.path_style = true\n",
	} {
		if !strings.Contains(cfgText, line) {
			t.Errorf("tahoe.cfg lacks %q:\n%s", strings.TrimSpace(line), cfgText)
		}
	}
	if strings.Contains(cfgText, testS3Secret) || strings.Contains(cfgText, "AKIDEXAMPLE") {
		t.Error("tahoe.cfg holds a credential")
	}
	c, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := S3Config{Endpoint: "https://s3.example.com", Region: "us-east-1", Bucket: "lafs-shares", Prefix: "node1/", PathStyle: true}
	if s := c.Storage(); s.Backend != BackendS3 || s.S3 != want || !s.Enabled {
		t.Errorf("storage: %+v", s)
	}

	for _, name := range []string{S3AccessKeyFile, S3SecretKeyFile, StorageSealKeyFile} {
		st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, st.Mode())
		}
	}
	access, secret, err := LoadS3Credentials(dir)
	if err != nil || access != "AKIDEXAMPLE" || secret != testS3Secret {
		t.Errorf("LoadS3Credentials = %q, %v", access, err)
	}
	key, err := LoadOrCreateSealKey(dir)
	if err != nil || key == ([32]byte{}) {
		t.Errorf("seal key: %v", err)
	}
	// The secret is in its file only.
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(filepath.ToSlash(p), S3SecretKeyFile) {
			return err
		}
		if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(testS3Secret)) {
			t.Errorf("%s holds the secret key", p)
		}
		return nil
	})

	// No prefix, default region: the prefix is a commented default.
	dir2 := filepath.Join(t.TempDir(), "n2")
	o := s3CreateOptions()
	o.S3.Prefix, o.S3.PathStyle, o.S3.Endpoint = "", false, "http://127.0.0.1:9000"
	if err := Create(dir2, o); err != nil {
		t.Fatal(err)
	}
	text := readFile(t, filepath.Join(dir2, "tahoe.cfg"))
	if !strings.Contains(text, "\n#s3.prefix =\n") || !strings.Contains(text, "\ns3.path_style = false\n") {
		t.Errorf("tahoe.cfg:\n%s", text)
	}
}

// TestCreateDiskNodeBackendKeys: a disk node gets the backend keys as
// commented defaults, and no S3 files.
func TestCreateDiskNodeBackendKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "disk")
	if err := Create(dir, CreateOptions{WebPort: "none", Hostname: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	text := readFile(t, filepath.Join(dir, "tahoe.cfg"))
	for _, line := range []string{"#backend = disk", "#s3.endpoint =", "#s3.region = us-east-1", "#s3.bucket =", "#s3.prefix =", "#s3.path_style = false"} {
		if !strings.Contains(text, "\n"+line+"\n") {
			t.Errorf("tahoe.cfg lacks %q", line)
		}
	}
	c, err := ReadConfig(dir)
	if err != nil || c.Storage().Backend != BackendDisk {
		t.Fatalf("ReadConfig: %v", err)
	}
	for _, name := range []string{S3AccessKeyFile, S3SecretKeyFile, StorageSealKeyFile} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name))); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a disk node has %s (%v)", name, err)
		}
	}
	// Clients and introducers get no backend keys.
	client := filepath.Join(t.TempDir(), "client")
	if err := Create(client, CreateOptions{Kind: KindClient}); err != nil {
		t.Fatal(err)
	}
	if text := readFile(t, filepath.Join(client, "tahoe.cfg")); strings.Contains(text, "backend") {
		t.Errorf("a client's tahoe.cfg names a backend:\n%s", text)
	}
}

// TestCreateS3BadOptions: bad combinations of the backend options are
// refused before anything is written, with errors that name the option
// and never hold the secret.
func TestCreateS3BadOptions(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*CreateOptions)
		want string
	}{
		{"client", func(o *CreateOptions) { o.Kind, o.Hostname = KindClient, "" }, "for storage nodes"},
		{"introducer", func(o *CreateOptions) { o.Kind = KindIntroducer }, "for storage nodes"},
		{"no storage", func(o *CreateOptions) { o.NoStorage = true }, "--no-storage"},
		{"unknown backend", func(o *CreateOptions) { o.StorageBackend = "gcs" }, "--storage-backend=gcs"},
		{"s3 keys for disk", func(o *CreateOptions) { o.StorageBackend = "" }, "--s3-endpoint, --s3-bucket, --s3-prefix, --s3-path-style, --s3-access-key-id, --s3-secret-access-key-file: the --s3-* options are for --storage-backend=s3"},
		{"no endpoint", func(o *CreateOptions) { o.S3.Endpoint = "" }, "needs --s3-endpoint"},
		{"no bucket", func(o *CreateOptions) { o.S3.Bucket = "" }, "needs --s3-bucket"},
		{"no credentials", func(o *CreateOptions) { o.S3AccessKeyID, o.S3SecretAccessKey = "", " " },
			"needs --s3-access-key-id, --s3-secret-access-key-file"},
		{"bad endpoint", func(o *CreateOptions) { o.S3.Endpoint = "ftp://s3.example.com" }, "--s3-endpoint:"},
		{"endpoint with a path", func(o *CreateOptions) { o.S3.Endpoint = "https://s3.example.com/bucket" }, "--s3-endpoint:"},
		{"bad bucket", func(o *CreateOptions) { o.S3.Bucket = "Bad_Bucket" }, "--s3-bucket:"},
		{"bad prefix", func(o *CreateOptions) { o.S3.Prefix = "/abs" }, "--s3-prefix:"},
		{"line break", func(o *CreateOptions) { o.S3.Region = "us\nevil = 1" }, "--s3-region:"},
		{"secret of two lines", func(o *CreateOptions) { o.S3SecretAccessKey = testS3Secret + "\n" + testS3Secret }, "--s3-secret-access-key-file:"},
		{"access key of two words", func(o *CreateOptions) { o.S3AccessKeyID = "AKID " + testS3Secret }, "--s3-access-key-id:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := s3CreateOptions()
			c.edit(&o)
			dir := filepath.Join(t.TempDir(), "n")
			err := Create(dir, o)
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Create: %v, want an ErrUsage saying %q", err, c.want)
			}
			if strings.Contains(err.Error(), testS3Secret) {
				t.Errorf("the error holds the secret: %v", err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the node directory was made (%v)", err)
			}
		})
	}
}

func TestS3ConfigCheck(t *testing.T) {
	for _, c := range []struct {
		cfg  S3Config
		want string
	}{
		{S3Config{Endpoint: "https://s3.example.com", Bucket: "abc"}, ""},
		{S3Config{Endpoint: "s3.example.com:9000", Bucket: "a.b-c", Region: "eu-west-3", Prefix: "x/y/"}, ""},
		{S3Config{Bucket: "abc"}, "s3.endpoint: not set"},
		{S3Config{Endpoint: "https://s3.example.com"}, "s3.bucket: not set"},
		{S3Config{Endpoint: "https://s3.example.com", Bucket: "ab"}, "s3.bucket:"},
		{S3Config{Endpoint: "https://s3.example.com", Bucket: "abc", Region: "us east"}, "s3.region:"},
		{S3Config{Endpoint: "https://s3.example.com", Bucket: "abc", Prefix: "a//b"}, "s3.prefix:"},
	} {
		err := c.cfg.Check()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
}

// TestCreateS3NodeCopyComesBack: a copy of an S3 node's directory taken
// right after create-node (and none of its local state since) brings the
// node back on "another machine", with its shares and their leases.
func TestCreateS3NodeCopyComesBack(t *testing.T) {
	dir := createS3NodeOn(t, s3test.Start(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	backup := filepath.Join(t.TempDir(), "copy")
	copyDir(t, dir, backup)

	n, err := Start(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	si := lafs.StorageIndex{1, 2, 3}
	lease := lafs.LeaseSecrets{Renew: lafs.Secret{4}, Cancel: lafs.Secret{5}}
	data := bytes.Repeat([]byte("kept in the bucket\n"), 100)
	up := lafs.UploadSecret(bytes.Repeat([]byte{6}, 32))
	if res, err := n.Storage.AllocateBuckets(ctx, si, lease, up, []lafs.ShareNum{0}, uint64(len(data))); err != nil || len(res.Allocated) != 1 {
		n.Close()
		t.Fatalf("allocate: %+v, %v", res, err)
	}
	if w, err := n.Storage.WriteImmutable(ctx, si, 0, up, 0, data); err != nil || !w.Done {
		n.Close()
		t.Fatalf("write: %+v, %v", w, err)
	}
	nurls := n.StorageURLs.NURLs
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	// The copy, moved elsewhere, has no storage folder at all.
	n2, err := Start(ctx, backup, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	// It is reached at the same storage URLs: create-node made them.
	if !slices.Equal(n2.StorageURLs.NURLs, nurls) {
		t.Errorf("the copy announces %v, the original %v", n2.StorageURLs.NURLs, nurls)
	}
	got, err := n2.Storage.ReadImmutable(ctx, si, 0, 0, uint64(len(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the copy reads %d bytes, %v", len(got), err)
	}
	leases, err := n2.Shares.Leases.Leases(ctx, backend.Key{SI: si, Share: 0})
	if err != nil || len(leases) != 1 || !leases[0].HasRenewSecret(lease.Renew, true) {
		t.Fatalf("the copy's leases: %+v, %v", leases, err)
	}
}

// copyDir copies the regular files and folders under from to to.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(dst, info.Mode().Perm())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// createS3NodeOn creates a storage node keeping its shares in srv's
// bucket, under a prefix of its own, and returns its directory.
func createS3NodeOn(t *testing.T, srv *s3test.Server) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "node")
	o := s3CreateOptions()
	o.S3 = S3Config{Endpoint: "http://" + srv.Endpoint, Bucket: srv.Bucket, Prefix: s3test.Prefix(), PathStyle: true}
	o.S3AccessKeyID, o.S3SecretAccessKey = srv.AccessKey, srv.SecretKey
	if err := Create(dir, o); err != nil {
		t.Fatal(err)
	}
	noKeyPool(t, dir)
	return dir
}
