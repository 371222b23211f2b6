package crypt

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/internal/vectors"
)

type knownAnswer struct {
	Function string                     `json:"function"`
	Inputs   map[string]json.RawMessage `json:"inputs_hex"`
	Expected string                     `json:"expected_base32"`
}

func (ka knownAnswer) hex(t *testing.T, name string) []byte {
	t.Helper()
	var s string
	if err := json.Unmarshal(ka.Inputs[name], &s); err != nil {
		t.Fatalf("%s: input %q: %v", ka.Function, name, err)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (ka knownAnswer) int(t *testing.T, name string) int {
	var n int
	if err := json.Unmarshal(ka.Inputs[name], &n); err != nil {
		t.Fatalf("%s: input %q: %v", ka.Function, name, err)
	}
	return n
}

func TestKnownAnswers(t *testing.T) {
	var file struct {
		Tags    map[string]string `json:"tags"`
		Answers []knownAnswer     `json:"hash_known_answers"`
		ConvTag struct {
			K, N, Segsize  int
			ConvergenceHex string `json:"convergence_hex"`
			TagHex         string `json:"tag_hex"`
		} `json:"convergence_tag_example"`
		Lease []struct {
			LeaseSecret string `json:"lease_secret_base32"`
			SI          string `json:"storage_index_base32"`
			TubID       string `json:"tubid_base32"`
			Expected    string `json:"expected_renewal_secret_base32"`
		} `json:"lease_renewal_secret_vectors"`
	}
	if err := json.Unmarshal(vectors.Read(t, "hash_known_answers.json"), &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Answers) < 32 {
		t.Fatalf("only %d known answers", len(file.Answers))
	}
	tags := map[string]string{
		"STORAGE_INDEX": TagStorageIndex, "BLOCK": TagBlock, "UEB": TagUEB, "PLAINTEXT": TagPlaintext,
		"CIPHERTEXT": TagCrypttext, "CIPHERTEXT_SEGMENT": TagCrypttextSegment, "PLAINTEXT_SEGMENT": TagPlaintextSegment,
		"CLIENT_RENEWAL": TagClientRenewal, "CLIENT_CANCEL": TagClientCancel, "FILE_RENEWAL": TagFileRenewal,
		"FILE_CANCEL": TagFileCancel, "BUCKET_RENEWAL": TagBucketRenewal, "BUCKET_CANCEL": TagBucketCancel,
		"WRITEKEY": TagMutableWriteKey, "WE_MASTER": TagWriteEnablerMaster, "WE": TagWriteEnabler,
		"PUBKEY": TagPubkeyFingerprint, "READKEY": TagMutableReadKey, "DATAKEY": TagMutableDataKey,
		"SSK_SI": TagMutableStorageIndex, "DIR_CAPKEY": TagDirnodeChildCapKey,
	}
	for name, want := range file.Tags {
		if tags[name] != want {
			t.Errorf("tag %s = %q, Tahoe has %q", name, tags[name], want)
		}
	}
	for i, ka := range file.Answers {
		var got []byte
		switch ka.Function {
		case "tagged_hash":
			h := TaggedHash(string(ka.hex(t, "tag")), ka.hex(t, "value"))
			got = h[:]
		case "tagged_pair_hash":
			h := TaggedPairHash(string(ka.hex(t, "tag")), ka.hex(t, "a"), ka.hex(t, "b"))
			got = h[:]
		case "storage_index_hash":
			h := StorageIndexHash(ka.hex(t, "key"))
			got = h[:]
		case "block_hash":
			h := BlockHash(ka.hex(t, "data"))
			got = h[:]
		case "uri_extension_hash":
			h := UEBHash(ka.hex(t, "data"))
			got = h[:]
		case "plaintext_hash":
			h := PlaintextHash(ka.hex(t, "data"))
			got = h[:]
		case "crypttext_hash":
			h := CrypttextHash(ka.hex(t, "data"))
			got = h[:]
		case "crypttext_segment_hash":
			h := CrypttextSegmentHash(ka.hex(t, "data"))
			got = h[:]
		case "plaintext_segment_hash":
			h := PlaintextSegmentHash(ka.hex(t, "data"))
			got = h[:]
		case "convergence_hash":
			h := ConvergenceHash(ka.hex(t, "convergence"), ka.int(t, "k"), ka.int(t, "n"), ka.int(t, "segsize"), ka.hex(t, "data"))
			got = h[:]
		case "my_renewal_secret_hash":
			h := ClientRenewalSecret(ka.hex(t, "lease_secret"))
			got = h[:]
		case "my_cancel_secret_hash":
			h := ClientCancelSecret(ka.hex(t, "lease_secret"))
			got = h[:]
		case "file_renewal_secret_hash":
			h := FileRenewalSecret(ka.hex(t, "client_secret"), ka.hex(t, "storage_index"))
			got = h[:]
		case "file_cancel_secret_hash":
			h := FileCancelSecret(ka.hex(t, "client_secret"), ka.hex(t, "storage_index"))
			got = h[:]
		case "bucket_renewal_secret_hash":
			h := BucketRenewalSecret(ka.hex(t, "file_secret"), ka.hex(t, "peerid"))
			got = h[:]
		case "bucket_cancel_secret_hash":
			h := BucketCancelSecret(ka.hex(t, "file_secret"), ka.hex(t, "peerid"))
			got = h[:]
		case "hmac":
			h := TahoeHMAC(ka.hex(t, "key"), ka.hex(t, "data"))
			got = h[:]
		case "mutable_rwcap_key_hash":
			h := DirnodeChildCapKey(ka.hex(t, "iv"), ka.hex(t, "writekey"))
			got = h[:]
		case "ssk_writekey_hash":
			h := SSKWriteKey(ka.hex(t, "privkey"))
			got = h[:]
		case "ssk_write_enabler_master_hash":
			h := SSKWriteEnablerMaster(ka.hex(t, "writekey"))
			got = h[:]
		case "ssk_write_enabler_hash":
			h := SSKWriteEnabler(ka.hex(t, "writekey"), ka.hex(t, "peerid"))
			got = h[:]
		case "ssk_pubkey_fingerprint_hash":
			h := SSKPubkeyFingerprint(ka.hex(t, "pubkey"))
			got = h[:]
		case "ssk_readkey_hash":
			h := SSKReadKey(ka.hex(t, "writekey"))
			got = h[:]
		case "ssk_readkey_data_hash":
			h := SSKDataKey(ka.hex(t, "salt"), ka.hex(t, "readkey"))
			got = h[:]
		case "ssk_storage_index_hash":
			h := SSKStorageIndex(ka.hex(t, "readkey"))
			got = h[:]
		case "permute_server_hash":
			h := PermuteServerHash(ka.hex(t, "peer_selection_index"), ka.hex(t, "seed"))
			got = h[:]
		default:
			t.Errorf("answer %d: no implementation for %q", i, ka.Function)
			continue
		}
		if lafs.Base32(got) != ka.Expected {
			t.Errorf("answer %d %s: got %s want %s", i, ka.Function, lafs.Base32(got), ka.Expected)
		}
	}

	ct := file.ConvTag
	secret, _ := hex.DecodeString(ct.ConvergenceHex)
	wantTag, _ := hex.DecodeString(ct.TagHex)
	if got := ConvergenceTag(secret, ct.K, ct.N, ct.Segsize); got != string(wantTag) {
		t.Errorf("convergence tag %q, want %q", got, wantTag)
	}

	if len(file.Lease) != 4 {
		t.Fatalf("want 4 lease vectors, have %d", len(file.Lease))
	}
	for i, v := range file.Lease {
		secret, err1 := lafs.ParseBase32(v.LeaseSecret)
		si, err2 := lafs.ParseBase32(v.SI)
		tubid, err3 := lafs.ParseBase32(v.TubID)
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatal(err)
		}
		c := ClientRenewalSecret(secret)
		f := FileRenewalSecret(c[:], si)
		b := BucketRenewalSecret(f[:], tubid)
		if lafs.Base32(b[:]) != v.Expected {
			t.Errorf("lease vector %d: got %s want %s", i, lafs.Base32(b[:]), v.Expected)
		}
	}
}

func TestNetstring(t *testing.T) {
	if got := string(Netstring(nil)); got != "0:," {
		t.Errorf("Netstring(\"\") = %q", got)
	}
	in := append(Netstring([]byte("hello")), Netstring([]byte("x,y:"))...)
	a, rest, err := ParseNetstring(in)
	if err != nil || string(a) != "hello" {
		t.Fatalf("%q %v", a, err)
	}
	b, rest, err := ParseNetstring(rest)
	if err != nil || string(b) != "x,y:" || len(rest) != 0 {
		t.Fatalf("%q %q %v", b, rest, err)
	}
	for _, bad := range []string{"", "5", "5:abc,", "3:abc", "3:abcd", "-1:,", "03:abc,", ":abc,", "a:,", "99999999999999999999999:x,"} {
		if _, _, err := ParseNetstring([]byte(bad)); !errors.Is(err, ErrNetstring) {
			t.Errorf("ParseNetstring(%q) err = %v", bad, err)
		}
	}
}

func FuzzParseNetstring(f *testing.F) {
	f.Add([]byte("3:abc,"))
	f.Add([]byte("0:,"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, rest, err := ParseNetstring(b)
		if err != nil {
			return
		}
		re := append(Netstring(c), rest...)
		if !bytes.Equal(re, b) {
			t.Fatalf("round trip %q -> %q", b, re)
		}
	})
}

func FuzzParseBase32(f *testing.F) {
	f.Add("aa")
	f.Add("mzxw6ytb")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := lafs.ParseBase32(s)
		if err != nil {
			return
		}
		if lafs.Base32(b) != s {
			t.Fatalf("accepted %q which re-encodes as %q", s, lafs.Base32(b))
		}
	})
}

func TestCTRAt(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 16)
	whole := make([]byte, 1000)
	if err := XORCTR(key, whole); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 1, 15, 16, 17, 255, 999} {
		s, err := NewCTRAt(key, off)
		if err != nil {
			t.Fatal(err)
		}
		part := make([]byte, 1000-off)
		s.XORKeyStream(part, part)
		if !bytes.Equal(part, whole[off:]) {
			t.Errorf("offset %d: key stream differs", off)
		}
	}
}

func TestEd25519KeyStrings(t *testing.T) {
	seed := bytes.Repeat([]byte{1}, 32)
	key := ed25519.NewKeyFromSeed(seed)
	s := FormatEd25519PrivateKey(key)
	back, err := ParseEd25519PrivateKey(s + "\n")
	if err != nil || !back.Equal(key) {
		t.Fatalf("private key round trip: %v", err)
	}
	ps := FormatEd25519PublicKey(key.Public().(ed25519.PublicKey))
	pub, err := ParseEd25519PublicKey(ps)
	if err != nil || !pub.Equal(key.Public()) {
		t.Fatalf("public key round trip: %v", err)
	}
	for _, bad := range []string{"", "pub-v0-aa", ps[3:], "priv-v0-" + ps[7:] + "a"} {
		if _, err := ParseEd25519PrivateKey(bad); !errors.Is(err, ErrKey) {
			t.Errorf("ParseEd25519PrivateKey(%q) err = %v", bad, err)
		}
	}
}

// TestPairHasher checks the paired hashes against the plain ones.
func TestPairHasher(t *testing.T) {
	data := make([]byte, 70000)
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	for _, n := range []int{0, 1, 31, 64, 1000, 43691, 70000} {
		a, b := BlockHashPair(data[:n], data[len(data)-n:])
		if a != BlockHash(data[:n]) || b != BlockHash(data[len(data)-n:]) {
			t.Errorf("BlockHashPair of %d bytes differs from BlockHash", n)
		}
		// Two streams of different lengths, fed in pieces.
		x, y := NewPairHasher(TagCrypttext), NewPairHasher(TagCrypttextSegment)
		for off := 0; off < n; off += 5000 {
			piece := data[off:min(off+5000, n)]
			WritePair(x, piece, y, piece[:len(piece)/2])
			y.Write(piece[len(piece)/2:])
		}
		if x.Sum() != CrypttextHash(data[:n]) || y.Sum() != CrypttextSegmentHash(data[:n]) {
			t.Errorf("PairHasher of %d bytes differs from TaggedHash", n)
		}
	}
}
