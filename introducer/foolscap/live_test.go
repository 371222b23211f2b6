package foolscap

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestTahoeLiveIntroducer talks to a live Tahoe 1.20 introducer (set
// TAHOE_INTRODUCER_FURL, as ../shared/tahoe-ref's env.sh does) in both
// negotiation roles: get_version, then subscribe_v2, which the introducer
// answers only after its announce_v2 call to us is answered.
func TestTahoeLiveIntroducer(t *testing.T) {
	furl := os.Getenv("TAHOE_INTRODUCER_FURL")
	if furl == "" {
		t.Skip("TAHOE_INTRODUCER_FURL is not set: no live Tahoe introducer to test against (see ../shared/tahoe-ref)")
	}
	f, err := ParseFURL(furl)
	if err != nil {
		t.Fatal(err)
	}
	for _, master := range []bool{true, false} {
		var tub *Tub
		for {
			tub, err = NewTub(testCert(t, true))
			if err != nil {
				t.Fatal(err)
			}
			if (tub.TubID() > f.TubID) == master {
				break
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		ref, err := tub.Dial(ctx, furl)
		if err != nil {
			t.Fatalf("master=%v: %v", master, err)
		}
		v, err := ref.Call(ctx, "get_version")
		if err != nil {
			t.Fatal(err)
		}
		d, ok := v.(Dict)
		if !ok {
			t.Fatalf("get_version answered %T", v)
		}
		if _, ok := d.Get("http://allmydata.org/tahoe/protocols/introducer/v2"); !ok {
			t.Fatalf("get_version answered %v", d)
		}
		sub := &echo{iface: "RIIntroducerSubscriberClient_v2.tahoe.allmydata.com", calls: make(chan *Call, 10)}
		info := Dict{{[]byte("version"), int64(0)}, {[]byte("nickname"), "lafs-test"}, {[]byte("app-versions"), List{}},
			{[]byte("my-version"), []byte("lafs/test")}, {[]byte("oldest-supported"), []byte("lafs/test")}}
		if _, err := ref.Call(ctx, "subscribe_v2", sub, []byte("storage"), info); err != nil {
			t.Fatal(err)
		}
		select {
		case c := <-sub.calls:
			anns, _ := c.Arg(0, "announcements")
			items, ok := Items(anns)
			if c.Method != "announce_v2" || !ok || len(items) == 0 {
				t.Fatalf("got %s(%v)", c.Method, anns)
			}
			t.Logf("master=%v: %d announcements", master, len(items))
		default:
			t.Fatal("subscribe_v2 answered before announce_v2 came")
		}
		// A call of a method the introducer lacks gets a Violation.
		_, err = ref.Call(ctx, "no_such_method")
		if f, ok := err.(*Failure); !ok || f.Type != "foolscap.tokens.Violation" {
			t.Fatalf("no_such_method: %v", err)
		}
		cancel()
		tub.Close()
	}
}
