package node

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs/introducer"
)

// TestIntroducerSummary: an introducer's state is worded as Tahoe's
// welcome page words it, for fURL and NURL introducers alike, and never
// shows a secret or an error.
func TestIntroducerSummary(t *testing.T) {
	now := time.Unix(1000000, 0)
	for _, c := range []struct {
		st   introducer.Status
		want string
	}{
		{introducer.Status{Address: "pb://tubid@tcp:127.0.0.1:41000,tcp:other:1/[censored]", Protocol: "foolscap", Connected: true, Hint: "tcp:127.0.0.1:41000"},
			"Connected to tcp:127.0.0.1:41000 via tcp"},
		{introducer.Status{Address: "pb://hash@[::1]:1234/[censored]#v=1", Protocol: "https", Connected: true, Hint: "tcp:[::1]:1234"},
			"Connected to tcp:[::1]:1234 via tcp"},
		{introducer.Status{Address: "nonsense", Connected: true}, "Connected"},
		{introducer.Status{Address: "pb://hash@example.org:1234/[censored]#v=1", Protocol: "https", LastAttempt: now}, "Trying to connect"},
		{introducer.Status{Address: "pb://tubid@tcp:h:1/[censored]", Protocol: "foolscap", LastError: errors.New("refused"),
			LastAttempt: now.Add(-3 * time.Second), NextAttempt: now.Add(5 * time.Second)},
			"Reconnecting in 5 seconds (last attempt 3s ago)"},
	} {
		got := introducerSummary(c.st, now)
		if got != c.want {
			t.Errorf("%+v: %q, want %q", c.st, got, c.want)
		}
		if strings.Contains(got, "censored") || strings.Contains(got, "refused") {
			t.Errorf("%q shows a secret's place or an error", got)
		}
	}
}
