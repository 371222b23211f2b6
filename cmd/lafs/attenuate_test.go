package main

import (
	"strings"
	"testing"
)

// TestAttenuate walks the recorded caps down: write -> read -> verify,
// as Tahoe's t=json showed them for the same objects.
func TestAttenuate(t *testing.T) {
	chains := [][]string{
		{goldenDir, goldenRO, "URI:DIR2-Verifier:izsxcd2hcgpwju6fy7zquq6ree:3eg74oc5uad2yvv3e7zo7hhfa67cadaj4zgqhgxuz5blthey7j5q"},
		{"URI:MDMF:bhcwyeiavykqhubjyptavjtlky:mkwawsxz2o5kdcit57tqfc4qatzv3nob436lvaak5xtxbbhzhuwq",
			"URI:MDMF-RO:6ecx4hzbao5jidjjkmdbaybj7e:mkwawsxz2o5kdcit57tqfc4qatzv3nob436lvaak5xtxbbhzhuwq",
			"URI:MDMF-Verifier:3livjtp63tyj7bsbwt62l3vd6u:mkwawsxz2o5kdcit57tqfc4qatzv3nob436lvaak5xtxbbhzhuwq"},
		{"URI:SSK:sbbqjjflvzrkcteouph6ujdrtu:v2rehmenr2lgk6qbuns45f4y366z6vuhywt265syw4naqwybbqoq",
			"URI:SSK-RO:nnogw4wc3dftzlkm2cibri3wji:v2rehmenr2lgk6qbuns45f4y366z6vuhywt265syw4naqwybbqoq",
			"URI:SSK-Verifier:h32y4pqfveldqiekferoarw3zq:v2rehmenr2lgk6qbuns45f4y366z6vuhywt265syw4naqwybbqoq"},
		{"URI:CHK:7cfqv5kg33myqfir6bnbxq2t7m:faztw7e7yekiz47mk7tsavxru4twrapag3labfwxkl5x64dzgc7a:3:10:920",
			"URI:CHK-Verifier:lmsdkcpd4seszjp4stnjgrgovy:faztw7e7yekiz47mk7tsavxru4twrapag3labfwxkl5x64dzgc7a:3:10:920"},
		{"URI:DIR2-CHK:mnha6ewir5ndus3hft5kct35iy:477cmza2ijhj4yb5tjfzc4i4mvhhd7wzcot4dopsyntjkltts4ka:3:10:181",
			"URI:DIR2-CHK-Verifier:gq3rmpebpreb5bffokcwbfs74q:477cmza2ijhj4yb5tjfzc4i4mvhhd7wzcot4dopsyntjkltts4ka:3:10:181"},
	}
	for _, chain := range chains {
		for i := 0; i+1 < len(chain); i++ {
			out, errOut, code := runCmd(t, nil, "attenuate", chain[i])
			if code != 0 || out != chain[i+1]+"\n" {
				t.Errorf("attenuate %s: %d %q %q, want %s", chain[i], code, out, errOut, chain[i+1])
			}
		}
		last := chain[len(chain)-1]
		if _, errOut, code := runCmd(t, nil, "attenuate", last); code != 1 || !strings.Contains(errOut, "already a verify cap") {
			t.Errorf("attenuate %s: %d %q", last, code, errOut)
		}
	}
	for _, tt := range []struct{ in, err string }{
		{"URI:LIT:oruw46jajreviidgnfwgkcq", "no verify cap"},
		{"URI:NEWKIND:stuff", "not a cap of a kind"},
		{"URI:CHK:short", "invalid"},
	} {
		if _, errOut, code := runCmd(t, nil, "attenuate", tt.in); code != 1 || !strings.Contains(errOut, tt.err) {
			t.Errorf("attenuate %s: %d %q, want %q", tt.in, code, errOut, tt.err)
		}
	}
	if _, _, code := runCmd(t, nil, "attenuate"); code != 2 {
		t.Errorf("attenuate without a cap: exit %d", code)
	}
}
