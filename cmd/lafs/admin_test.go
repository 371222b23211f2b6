package main

import (
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/lafs/lafs/crypt"
)

// parseKeypair reads the two lines of generate-keypair and derive-pubkey.
func parseKeypair(t *testing.T, out string) (ed25519.PrivateKey, ed25519.PublicKey) {
	t.Helper()
	lines := strings.Split(out, "\n")
	if len(lines) != 3 || lines[2] != "" || !strings.HasPrefix(lines[0], "private: priv-v0-") || !strings.HasPrefix(lines[1], "public: pub-v0-") {
		t.Fatalf("not a key pair: %q", out)
	}
	priv, err := crypt.ParseEd25519PrivateKey(strings.TrimPrefix(lines[0], "private: "))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := crypt.ParseEd25519PublicKey(strings.TrimPrefix(lines[1], "public: "))
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

func TestAdminGenerateKeypair(t *testing.T) {
	out, errOut, code := runCmd(t, nil, "admin", "generate-keypair")
	if code != 0 || errOut != "" {
		t.Fatalf("generate-keypair: %d %q", code, errOut)
	}
	priv, pub := parseKeypair(t, out)
	if !pub.Equal(priv.Public()) {
		t.Error("the public key is not the private key's")
	}
	// Tahoe's form: base32 of the 32-byte seed and of the public key.
	if len(strings.Split(out, "\n")[0]) != len("private: priv-v0-")+52 || len(strings.Split(out, "\n")[1]) != len("public: pub-v0-")+52 {
		t.Errorf("lengths: %q", out)
	}
	again, _, _ := runCmd(t, nil, "admin", "generate-keypair")
	if again == out {
		t.Error("two key pairs are the same")
	}
	if _, _, code := runCmd(t, nil, "admin", "generate-keypair", "extra"); code != 2 {
		t.Errorf("generate-keypair extra: exit %d", code)
	}
}

func TestAdminDerivePubkey(t *testing.T) {
	gen, _, _ := runCmd(t, nil, "admin", "generate-keypair")
	privLine := strings.Split(gen, "\n")[0]
	privKey := strings.TrimPrefix(privLine, "private: ")
	// The same two lines back, from the argument or from stdin.
	out, errOut, code := runCmd(t, nil, "admin", "derive-pubkey", privKey)
	if code != 0 || out != gen || errOut != "" {
		t.Errorf("derive-pubkey: %d %q %q, want %q", code, out, errOut, gen)
	}
	out, _, code = runCmd(t, []byte("  "+privKey+"\n"), "admin", "derive-pubkey", "-")
	if code != 0 || out != gen {
		t.Errorf("derive-pubkey -: %d %q, want %q", code, out, gen)
	}
	// A key pair of Tahoe's own tests (test_crypto.py, keys made by its
	// older code).
	out, _, code = runCmd(t, nil, "admin", "derive-pubkey", "priv-v0-lqcj746bqa4npkb6zpyc6esd74x3bl6mbcjgqend7cvtgmcpawhq")
	if want := "private: priv-v0-lqcj746bqa4npkb6zpyc6esd74x3bl6mbcjgqend7cvtgmcpawhq\npublic: pub-v0-yzpqin3of3ep363lwzxwpvgai3ps43dao46k2jds5kw5ohhpcwhq\n"; code != 0 || out != want {
		t.Errorf("derive-pubkey of Tahoe's key: %d %q, want %q", code, out, want)
	}

	pubKey := strings.TrimPrefix(strings.Split(gen, "\n")[1], "public: ")
	for _, bad := range []struct{ arg, says string }{
		{pubKey, "a public key, not a private one"},
		{"priv-v0-tooshort", "not a private key"},
		{"nonsense", "not a private key"},
	} {
		out, errOut, code := runCmd(t, nil, "admin", "derive-pubkey", bad.arg)
		if code != 1 || out != "" || !strings.Contains(errOut, bad.says) || strings.Contains(errOut, bad.arg) && bad.arg != "nonsense" {
			t.Errorf("derive-pubkey %q: %d %q %q", bad.arg, code, out, errOut)
		}
	}
	if _, _, code := runCmd(t, nil, "admin", "derive-pubkey"); code != 2 {
		t.Errorf("derive-pubkey without a key: exit %d", code)
	}
}
