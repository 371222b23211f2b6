package foolscap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// wantFailure checks that err is a *Failure of type typ whose value
// contains value.
func wantFailure(t testing.TB, err error, typ, value string) {
	t.Helper()
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("got %v, want a %s Failure", err, typ)
	}
	if f.Type != typ || !strings.Contains(f.Value, value) {
		t.Fatalf("got Failure %s %q, want %s containing %q", f.Type, f.Value, typ, value)
	}
}

// alive checks that the connection of ref still serves calls.
func alive(t testing.TB, ref *RemoteRef) {
	t.Helper()
	v, err := ref.Call(testCtx(t), "ping", int64(42))
	if err != nil || !valueEqual(v, Tuple{int64(42)}) {
		t.Fatalf("the connection no longer works: %v, %v", v, err)
	}
}

func TestValuesRoundTrip(t *testing.T) {
	huge, _ := new(big.Int).SetString("123456789012345678901234567890123456789", 10)
	negHuge := new(big.Int).Neg(huge)
	values := []struct {
		name    string
		in, out any
	}{
		{"None", nil, nil},
		{"True", true, true},
		{"False", false, false},
		{"0", int64(0), int64(0)},
		{"int", 7, int64(7)},
		{"-1", int64(-1), int64(-1)},
		{"2^31-1", int64(1<<31 - 1), int64(1<<31 - 1)},
		{"2^31", int64(1 << 31), int64(1 << 31)},
		{"-2^31", int64(-1 << 31), int64(-1 << 31)},
		{"-2^31-1", int64(-1<<31 - 1), int64(-1<<31 - 1)},
		{"max int64", int64(math.MaxInt64), int64(math.MaxInt64)},
		{"min int64", int64(math.MinInt64), int64(math.MinInt64)},
		{"big", huge, huge},
		{"negative big", negHuge, negHuge},
		{"big that fits", big.NewInt(-3), int64(-3)},
		{"bytes", []byte("hello\x00\xff"), []byte("hello\x00\xff")},
		{"empty bytes", []byte{}, []byte{}},
		{"vocab bytes", []byte("my-reference"), []byte("my-reference")},
		{"text", "grüße ☃", "grüße ☃"},
		{"empty text", "", ""},
		{"vocab text", "call", "call"},
		{"float", 3.25, 3.25},
		{"negative zero", math.Copysign(0, -1), math.Copysign(0, -1)},
		{"infinity", math.Inf(-1), math.Inf(-1)},
		{"NaN", math.NaN(), math.NaN()},
		{"empty list", List{}, List{}},
		{"[]any", []any{int64(1), "a"}, List{int64(1), "a"}},
		{"tuple", Tuple{[]byte("a"), []byte("b"), []byte("c")}, Tuple{[]byte("a"), []byte("b"), []byte("c")}},
		{"set", Set{int64(1), int64(2)}, Set{int64(1), int64(2)}},
		{"dict", Dict{{[]byte("k"), int64(1)}, {"t", nil}, {int64(3), true}, {Tuple{int64(1)}, List{}}},
			Dict{{[]byte("k"), int64(1)}, {"t", nil}, {int64(3), true}, {Tuple{int64(1)}, List{}}}},
		{"empty dict", Dict{}, Dict{}},
		{"nested", List{Dict{{[]byte("x"), Set{Tuple{List{List{nil, "deep", 2.5}}}}}}},
			List{Dict{{[]byte("x"), Set{Tuple{List{List{nil, "deep", 2.5}}}}}}}},
		{"announcement", Set{Tuple{[]byte(`{"a": 1}`), []byte("v0-sig"), []byte("v0-key")}},
			Set{Tuple{[]byte(`{"a": 1}`), []byte("v0-sig"), []byte("v0-key")}}},
	}
	roles(t, func(t *testing.T, serverDecides bool) {
		_, _, _, ref := dialPair(t, serverDecides)
		ctx := testCtx(t)
		var all, allOut []any
		for _, c := range values {
			v, err := ref.Call(ctx, "echo", c.in)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if !valueEqual(v, Tuple{c.out}) {
				t.Errorf("%s: sent %#v, got back %#v", c.name, c.in, v)
			}
			all, allOut = append(all, c.in), append(allOut, c.out)
		}
		// All of them at once, as positional arguments.
		v, err := ref.Call(ctx, "echo", all...)
		if err != nil || !valueEqual(v, Tuple(allOut)) {
			t.Errorf("all at once: %#v, %v", v, err)
		}
	})
}

func TestKeywordArguments(t *testing.T) {
	roles(t, func(t *testing.T, serverDecides bool) {
		srv, _, _, ref := dialPair(t, serverDecides)
		ctx := testCtx(t)
		drain(srv.calls)
		v, err := ref.CallKw(ctx, "kw", []any{int64(1), "two"}, Dict{{"list", []byte("vocab name")}, {"b", List{nil}}})
		if err != nil || !valueEqual(v, Tuple{int64(1), "two"}) {
			t.Fatalf("CallKw: %v, %v", v, err)
		}
		c := recv(t, srv.calls)
		if c.Method != "kw" || len(c.Args) != 2 || len(c.Kwargs) != 2 ||
			!valueEqual(c.Kwargs["list"], []byte("vocab name")) || !valueEqual(c.Kwargs["b"], List{nil}) {
			t.Fatalf("the call arrived as %+v", c)
		}
		if v, ok := c.Arg(1, "x"); !ok || v != "two" {
			t.Errorf("Arg(1) = %v", v)
		}
		if v, ok := c.Arg(5, "b"); !ok || !valueEqual(v, List{nil}) {
			t.Errorf("Arg(5, b) = %v", v)
		}
		if err := c.CheckArgs("p", "q", "list", "b"); err != nil {
			t.Errorf("CheckArgs: %v", err)
		}
		for _, names := range [][]string{{"p"}, {"p", "q", "list"}, {"p", "q", "list", "b", "missing"}, {"p", "list", "b"}} {
			if err := c.CheckArgs(names...); err == nil {
				t.Errorf("CheckArgs(%v) passed", names)
			}
		}
		// Keywords must be text.
		if _, err := ref.CallKw(ctx, "kw", nil, Dict{{[]byte("b"), 1}}); err == nil {
			t.Error("a bytes keyword was sent")
		}
		alive(t, ref)
	})
}

// drain empties a channel of calls.
func drain(ch chan *Call) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func TestErrorsKeepTheConnection(t *testing.T) {
	roles(t, func(t *testing.T, serverDecides bool) {
		srv, server, _, ref := dialPair(t, serverDecides)
		ctx := testCtx(t)
		server.Register("plain", &funcObject{f: func(ctx context.Context, c *Call) (any, error) {
			return nil, fmt.Errorf("plain trouble")
		}})
		plain, err := ref.Conn().tub.Dial(ctx, strings.Replace(srv.furl, "/echo", "/plain", 1))
		if err != nil {
			t.Fatal(err)
		}
		if plain.Conn() != ref.Conn() {
			t.Fatal("a second Dial of the same tub made a new connection")
		}

		_, err = ref.Call(ctx, "fail")
		wantFailure(t, err, "test.Boom", "boom")
		alive(t, ref)

		_, err = plain.Call(ctx, "anything")
		wantFailure(t, err, "builtins.Exception", "plain trouble")
		alive(t, ref)

		_, err = ref.Call(ctx, "panic")
		wantFailure(t, err, "builtins.Exception", "internal error in panic")
		if strings.Contains(err.Error(), "deliberate") {
			t.Errorf("the panic's value reached the peer: %v", err)
		}
		alive(t, ref)

		broker := &RemoteRef{conn: ref.Conn(), clid: 0}
		_, err = broker.Call(ctx, "no_such_method")
		wantFailure(t, err, "foolscap.tokens.Violation", "no_such_method")
		alive(t, ref)

		_, err = broker.CallKw(ctx, "getReferenceByName", nil, Dict{{"nom", []byte("echo")}})
		wantFailure(t, err, "foolscap.tokens.Violation", "nom")
		_, err = broker.Call(ctx, "getReferenceByName", int64(5))
		wantFailure(t, err, "foolscap.tokens.Violation", "name")
		_, err = broker.Call(ctx, "decref", "x", int64(1))
		wantFailure(t, err, "foolscap.tokens.Violation", "decref")
		if v, err := broker.Call(ctx, "decgift", int64(1), int64(1)); err != nil || v != nil {
			t.Errorf("decgift: %v, %v", v, err)
		}

		nobody := &RemoteRef{conn: ref.Conn(), clid: 99}
		_, err = nobody.Call(ctx, "echo")
		wantFailure(t, err, "foolscap.tokens.Violation", "no object 99")
		alive(t, ref)

		var f *Failure
		if _, err := ref.Call(ctx, "fail"); !errors.As(err, &f) || len(f.Parents) != 0 {
			t.Errorf("Failure %+v", f)
		}
		// A Failure's fields are cut to Foolscap's limits.
		server.Register("long", &funcObject{f: func(ctx context.Context, c *Call) (any, error) {
			return nil, &Failure{Type: strings.Repeat("t", 300), Value: strings.Repeat("v", 2000), Traceback: strings.Repeat("b", 3000), Parents: []string{"p1", "p2"}}
		}})
		long, err := ref.Conn().tub.Dial(ctx, strings.Replace(srv.furl, "/echo", "/long", 1))
		if err != nil {
			t.Fatal(err)
		}
		_, err = long.Call(ctx, "x")
		if !errors.As(err, &f) || len(f.Type) != maxFailureType || len(f.Value) != maxFailureValue || len(f.Traceback) != maxFailureTraceback || len(f.Parents) != 2 {
			t.Errorf("long Failure: %d %d %d %v", len(f.Type), len(f.Value), len(f.Traceback), f.Parents)
		}
	})
}

// TestAnswerThatCannotBeSent: an Object answering with a value Banana
// cannot carry gets an error answer instead, and the connection lives.
func TestAnswerThatCannotBeSent(t *testing.T) {
	srv, server, client, ref := dialPair(t, true)
	server.Register("odd", &funcObject{f: func(ctx context.Context, c *Call) (any, error) {
		return List{make(chan int)}, nil
	}})
	odd, err := client.Dial(testCtx(t), strings.Replace(srv.furl, "/echo", "/odd", 1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = odd.Call(testCtx(t), "x")
	wantFailure(t, err, "builtins.Exception", "cannot send")
	alive(t, ref)
}

func TestCallOnly(t *testing.T) {
	roles(t, func(t *testing.T, serverDecides bool) {
		srv, _, _, ref := dialPair(t, serverDecides)
		drain(srv.calls)
		for _, m := range []string{"note", "fail", "panic"} {
			if err := ref.CallOnly(m, int64(7)); err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range []string{"note", "fail", "panic"} {
			select {
			case c := <-srv.calls:
				if c.Method != m || !valueEqual(c.Args, []any{int64(7)}) {
					t.Fatalf("call %s(%v)", c.Method, c.Args)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("the CallOnly of %s did not arrive", m)
			}
		}
		// Had the server answered request 0, the client would have
		// dropped the connection.
		alive(t, ref)
	})
}

// TestReferences passes our objects to the peer, gets them back, and
// calls references the peer sends.
func TestReferences(t *testing.T) {
	roles(t, func(t *testing.T, serverDecides bool) {
		srv, server, client, ref := dialPair(t, serverDecides)
		ctx := testCtx(t)
		var (
			mu   sync.Mutex
			seen []*RemoteRef
		)
		keep := &funcObject{iface: "RIKeeper.test", f: func(ctx context.Context, c *Call) (any, error) {
			switch c.Method {
			case "keep":
				r, ok := c.Args[0].(*RemoteRef)
				if !ok {
					return nil, fmt.Errorf("got a %T", c.Args[0])
				}
				mu.Lock()
				seen = append(seen, r)
				mu.Unlock()
				return r, nil // goes back as our own object
			case "child":
				return &echo{iface: "RIChild.test"}, nil
			}
			return nil, violation("no method %s", c.Method)
		}}
		server.Register("keeper", keep)
		keeper, err := client.Dial(ctx, strings.Replace(srv.furl, "/echo", "/keeper", 1))
		if err != nil {
			t.Fatal(err)
		}
		if keeper.Interface() != "RIKeeper.test" || keeper.clid == ref.clid {
			t.Fatalf("keeper reference %+v", keeper)
		}
		// A named object goes with its fURL.
		if keeper.furl != strings.Replace(srv.furl, "/echo", "/keeper", 1) {
			t.Errorf("keeper fURL %q", keeper.furl)
		}

		mine := &echo{iface: "RIMine.test"}
		for i := 0; i < 3; i++ {
			v, err := keeper.Call(ctx, "keep", mine)
			if err != nil {
				t.Fatal(err)
			}
			if v != Object(mine) {
				t.Fatalf("our object came back as %#v", v)
			}
		}
		mu.Lock()
		if len(seen) != 3 || seen[0] != seen[1] || seen[1] != seen[2] || seen[0].Interface() != "RIMine.test" || seen[0].furl != "" {
			t.Fatalf("the server saw %+v", seen)
		}
		theirs := seen[0]
		mu.Unlock()
		// The server can call our object; it answers through our
		// dispatcher.
		v, err := theirs.Call(ctx, "hello", "you")
		if err != nil || !valueEqual(v, Tuple{"you"}) {
			t.Fatalf("calling back: %v, %v", v, err)
		}

		// The server hands out an unnamed object: no fURL.
		v, err = keeper.Call(ctx, "child")
		if err != nil {
			t.Fatal(err)
		}
		child, ok := v.(*RemoteRef)
		if !ok || child.Interface() != "RIChild.test" || child.furl != "" {
			t.Fatalf("child %#v", v)
		}
		if v, err := child.Call(ctx, "echo", int64(5)); err != nil || !valueEqual(v, Tuple{int64(5)}) {
			t.Fatalf("calling the child: %v, %v", v, err)
		}

		// A reference to another connection's object cannot be sent.
		other := newTestTub(t)
		otherSrv := serveTub(t, other)
		otherRef, err := client.Dial(ctx, otherSrv.furl)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ref.Call(ctx, "echo", otherRef); err == nil {
			t.Fatal("a reference to another tub's object was sent")
		}
		alive(t, ref)
	})
}

// TestSubscribeQuirk: the peer calls back the object we passed while our
// call waits, and answers only after our callback answered, as Tahoe's
// subscribe_v2 does.
func TestSubscribeQuirk(t *testing.T) {
	roles(t, func(t *testing.T, serverDecides bool) {
		srv, server, client, _ := dialPair(t, serverDecides)
		ctx := testCtx(t)
		server.Register("intro", &funcObject{iface: "RIIntro.test", f: func(ctx context.Context, c *Call) (any, error) {
			if err := c.CheckArgs("subscriber", "service_name", "subscriber_info"); err != nil {
				return nil, err
			}
			v, _ := c.Arg(0, "subscriber")
			sub, ok := v.(*RemoteRef)
			if !ok || sub.Interface() != subIface {
				return nil, violation("subscriber %v", v)
			}
			// Positional, as Tahoe calls it; its answer is ours.
			return sub.Call(ctx, "announce_v2", Set{Tuple{[]byte("m"), []byte("s"), []byte("k")}})
		}})
		intro, err := client.Dial(ctx, strings.Replace(srv.furl, "/echo", "/intro", 1))
		if err != nil {
			t.Fatal(err)
		}
		sub := &echo{iface: subIface, calls: make(chan *Call, 10)}
		for i := 0; i < 3; i++ {
			v, err := intro.Call(ctx, "subscribe_v2", sub, []byte("storage"), subscriberInfo)
			if err != nil || v != nil {
				t.Fatalf("subscribe_v2: %v, %v", v, err)
			}
			select {
			case c := <-sub.calls:
				if c.Method != "announce_v2" || !valueEqual(c.Args, []any{Set{Tuple{[]byte("m"), []byte("s"), []byte("k")}}}) {
					t.Fatalf("callback %s(%v)", c.Method, c.Args)
				}
			default:
				t.Fatal("subscribe_v2 answered before the callback came")
			}
		}
	})
}

// TestDecref: the peer frees the references it dropped; named objects
// stay.
func TestDecref(t *testing.T) {
	roles(t, func(t *testing.T, serverDecides bool) {
		srv, server, client, ref := dialPair(t, serverDecides)
		ctx := testCtx(t)
		var serverConn *Conn
		var got *RemoteRef
		server.Register("keeper", &funcObject{f: func(ctx context.Context, c *Call) (any, error) {
			serverConn = c.Conn
			got, _ = c.Args[0].(*RemoteRef)
			return nil, nil
		}})
		keeper, err := client.Dial(ctx, strings.Replace(srv.furl, "/echo", "/keeper", 1))
		if err != nil {
			t.Fatal(err)
		}
		c := ref.Conn()
		mine := &echo{iface: "RIMine.test"}
		for i := 0; i < 2; i++ { // sent twice
			if _, err := keeper.Call(ctx, "keep", mine); err != nil {
				t.Fatal(err)
			}
		}
		clid := got.clid
		if c.lookupExport(clid) != Object(mine) {
			t.Fatal("our object is not exported")
		}
		theirBroker := &RemoteRef{conn: serverConn, clid: 0}
		decref := func(clid, count int64) {
			t.Helper()
			if v, err := theirBroker.CallKw(ctx, "decref", nil, Dict{{"clid", clid}, {"count", count}}); err != nil || v != nil {
				t.Fatalf("decref: %v, %v", v, err)
			}
		}
		decref(clid, 1)
		if c.lookupExport(clid) == nil {
			t.Fatal("one decref of two sendings freed the object")
		}
		if v, err := got.Call(ctx, "x", int64(1)); err != nil || !valueEqual(v, Tuple{int64(1)}) {
			t.Fatalf("calling after one decref: %v, %v", v, err)
		}
		decref(clid, 1)
		if c.lookupExport(clid) != nil {
			t.Fatal("the object outlived its last decref")
		}
		_, err = got.Call(ctx, "x")
		wantFailure(t, err, "foolscap.tokens.Violation", "no object")
		// Positional decref of a clid we never had is harmless.
		if _, err := theirBroker.Call(ctx, "decref", int64(999), int64(1)); err != nil {
			t.Fatal(err)
		}
		// Sent again, it gets a new clid and its interface name again.
		if _, err := keeper.Call(ctx, "keep", mine); err != nil {
			t.Fatal(err)
		}
		if got.clid == clid || got.Interface() != "RIMine.test" {
			t.Fatalf("re-sent as %+v", got)
		}
		// A named object survives decref.
		serverBrokerFromClient := &RemoteRef{conn: c, clid: 0}
		if _, err := serverBrokerFromClient.Call(ctx, "decref", ref.clid, int64(5)); err != nil {
			t.Fatal(err)
		}
		alive(t, ref)
	})
}

// TestUnsentExportIsTakenBack: an object exported by a message that could
// not be encoded is not left behind, so that its next sending carries its
// interface name.
func TestUnsentExportIsTakenBack(t *testing.T) {
	srv, server, client, ref := dialPair(t, false)
	ctx := testCtx(t)
	var got *RemoteRef
	server.Register("keeper", &funcObject{f: func(ctx context.Context, c *Call) (any, error) {
		got, _ = c.Args[0].(*RemoteRef)
		return nil, nil
	}})
	keeper, err := client.Dial(ctx, strings.Replace(srv.furl, "/echo", "/keeper", 1))
	if err != nil {
		t.Fatal(err)
	}
	mine := &echo{iface: "RIMine.test"}
	if _, err := keeper.Call(ctx, "keep", List{mine, mine, make(chan int)}); err == nil {
		t.Fatal("a channel was sent")
	}
	c := ref.Conn()
	c.mu.Lock()
	n := len(c.exports)
	c.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d exports left by a message never sent", n)
	}
	if _, err := keeper.Call(ctx, "keep", mine); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Interface() != "RIMine.test" {
		t.Fatalf("the object arrived as %+v", got)
	}
}

func TestConcurrentCalls(t *testing.T) {
	roles(t, func(t *testing.T, serverDecides bool) {
		srv, _, client, ref := dialPair(t, serverDecides)
		ctx := testCtx(t)
		var wg sync.WaitGroup
		var failed atomic.Int32
		for g := 0; g < 20; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := ref
				if g%2 == 1 { // half of them dial too, sharing the connection
					var err error
					if r, err = client.Dial(ctx, srv.furl); err != nil {
						t.Error(err)
						failed.Add(1)
						return
					}
				}
				for i := 0; i < 25; i++ {
					arg := Tuple{int64(g), int64(i), fmt.Sprint(g, "/", i)}
					v, err := r.Call(ctx, "echo", arg)
					if err != nil || !valueEqual(v, Tuple{arg}) {
						t.Errorf("goroutine %d call %d: %v, %v", g, i, v, err)
						failed.Add(1)
						return
					}
				}
			}()
		}
		wg.Wait()
		if failed.Load() > 0 {
			return
		}
		// One connection served them all.
		client.mu.Lock()
		n := len(client.all)
		client.mu.Unlock()
		if n != 1 {
			t.Errorf("%d connections", n)
		}
	})
}

func TestUnknownName(t *testing.T) {
	srv, _, client, _ := dialPair(t, true)
	secret := "nosuchswissnumxxxxxxxxxxxxxxxxxx"
	_, err := client.Dial(testCtx(t), strings.Replace(srv.furl, "/echo", "/"+secret, 1))
	wantFailure(t, err, "builtins.KeyError", "unable to find")
	if strings.Contains(err.Error(), secret) {
		t.Errorf("the error shows the swissnum: %v", err)
	}
}

func TestUnregister(t *testing.T) {
	srv, server, client, _ := dialPair(t, true)
	server.Unregister("echo")
	_, err := client.Dial(testCtx(t), srv.furl)
	wantFailure(t, err, "builtins.KeyError", "unable to find")
}

// TestDemuxTLS: a TLS client on the shared port reaches the listener side,
// while Foolscap connections reach the tub.
func TestDemuxTLS(t *testing.T) {
	srv, _, _, ref := dialPair(t, true)
	cert := testCert(t, false)
	served := make(chan error, 1)
	go func() {
		nc, err := srv.tls.Accept()
		if err != nil {
			served <- err
			return
		}
		defer nc.Close()
		tc := tls.Server(nc, &tls.Config{Certificates: []tls.Certificate{cert}})
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 5)
		if _, err := io.ReadFull(tc, buf); err != nil {
			served <- err
			return
		}
		_, err = tc.Write(append([]byte("re: "), buf...))
		served <- err
	}()
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", srv.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := tc.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 9)
	if _, err := io.ReadFull(tc, got); err != nil || string(got) != "re: hello" {
		t.Fatalf("read %q, %v", got, err)
	}
	if err := recv(t, served); err != nil {
		t.Fatal(err)
	}
	if !tc.ConnectionState().PeerCertificates[0].Equal(mustParse(t, cert)) {
		t.Error("the TLS side answered with another certificate")
	}
	alive(t, ref)

	// A connection that closes before its first byte goes nowhere.
	nc, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	alive(t, ref)

	// After Close, Accept fails.
	srv.tls.Close()
	if _, err := srv.tls.Accept(); err == nil {
		t.Error("Accept after Close succeeded")
	}
}

// TestDialReuse: Dials share the live connection.
func TestDialReuse(t *testing.T) {
	srv, _, client, ref := dialPair(t, true)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	refs := make([]*RemoteRef, 10)
	for i := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := client.Dial(ctx, srv.furl)
			if err != nil {
				t.Error(err)
			}
			refs[i] = r
		}()
	}
	wg.Wait()
	for _, r := range refs {
		if r == nil || r.Conn() != ref.Conn() {
			t.Fatal("a Dial made a second connection")
		}
	}
	if len(srv.conns) != 1 {
		t.Errorf("the server saw %d connections", len(srv.conns))
	}
}

// serverConnOf returns the server's side of ref's connection, from a call
// the server's echo saw.
func serverConnOf(t testing.TB, srv *served, ref *RemoteRef) *Conn {
	t.Helper()
	drain(srv.calls)
	alive(t, ref)
	select {
	case c := <-srv.calls:
		return c.Conn
	case <-time.After(5 * time.Second):
		t.Fatal("no call arrived")
	}
	return nil
}

// waitDone waits for a connection's end.
func waitDone(t testing.TB, c *Conn, what string) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not end", what)
	}
}

// TestReconnectAfterServerClose: once the server drops the connection,
// pending calls fail and a new Dial makes a new one.
func TestReconnectAfterServerClose(t *testing.T) {
	roles(t, func(t *testing.T, serverDecides bool) {
		srv, server, client, ref := dialPair(t, serverDecides)
		ctx := testCtx(t)
		release := make(chan struct{})
		started := make(chan struct{}, 1)
		server.Register("slow", &funcObject{f: func(ctx context.Context, c *Call) (any, error) {
			started <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil, nil
		}})
		t.Cleanup(func() { close(release) })
		slow, err := client.Dial(ctx, strings.Replace(srv.furl, "/echo", "/slow", 1))
		if err != nil {
			t.Fatal(err)
		}
		// (Before the slow call, which holds up the calls after it.)
		sc := serverConnOf(t, srv, ref)
		pending := make(chan error, 1)
		go func() {
			_, err := slow.Call(ctx, "wait")
			pending <- err
		}()
		recv(t, started)
		if sc.PeerTubID() != client.TubID() || ref.Conn().PeerTubID() != server.TubID() {
			t.Fatal("peer tub IDs are wrong")
		}
		if sc.RemoteAddr() == nil || time.Since(sc.LastReceived()) > time.Minute {
			t.Fatal("RemoteAddr or LastReceived is wrong")
		}
		old := ref.Conn()
		sc.Close()
		waitDone(t, old, "the client's connection")
		if err := recv(t, pending); !errors.Is(err, ErrClosed) {
			t.Fatalf("the pending call: %v", err)
		}
		if _, err := ref.Call(ctx, "echo"); !errors.Is(err, ErrClosed) {
			t.Fatalf("a call on the lost connection: %v", err)
		}
		if old.Err() == nil {
			t.Fatal("no Err on a lost connection")
		}
		ref2, err := client.Dial(ctx, srv.furl)
		if err != nil {
			t.Fatal(err)
		}
		if ref2.Conn() == old {
			t.Fatal("Dial returned the lost connection")
		}
		alive(t, ref2)
	})
}

// blipConn is a TCP connection that can be cut on our side only: after
// cut it swallows writes and fails reads, and the socket stays open, so
// the peer does not notice, as after a network blip.
type blipConn struct {
	net.Conn
	isCut atomic.Bool
}

func (b *blipConn) cut() {
	b.isCut.Store(true)
	b.Conn.SetReadDeadline(time.Unix(1, 0))
}

func (b *blipConn) Write(p []byte) (int, error) {
	if b.isCut.Load() {
		return len(p), nil
	}
	return b.Conn.Write(p)
}

func (b *blipConn) SetReadDeadline(t time.Time) error {
	if b.isCut.Load() {
		return nil
	}
	return b.Conn.SetReadDeadline(t)
}

func (b *blipConn) SetDeadline(t time.Time) error {
	if b.isCut.Load() {
		return nil
	}
	return b.Conn.SetDeadline(t)
}

func (b *blipConn) Close() error {
	if b.isCut.Load() {
		return nil
	}
	return b.Conn.Close()
}

// TestReconnectReplacesStale: a client whose connection broke on its side
// reconnects while the server still holds the old connection; the new one
// wins and the server drops the old one.
func TestReconnectReplacesStale(t *testing.T) {
	roles(t, func(t *testing.T, serverDecides bool) {
		var mu sync.Mutex
		var dialed []*blipConn
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			nc, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			b := &blipConn{Conn: nc}
			mu.Lock()
			dialed = append(dialed, b)
			mu.Unlock()
			return b, nil
		}
		server, client := testTubPair(t, serverDecides, WithDialer(dial))
		t.Cleanup(func() {
			mu.Lock()
			defer mu.Unlock()
			for _, b := range dialed {
				b.Conn.Close()
			}
		})
		srv := serveTub(t, server)
		ctx := testCtx(t)
		for round := 0; round < 3; round++ {
			ref, err := client.Dial(ctx, srv.furl)
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			sc := serverConnOf(t, srv, ref)
			mu.Lock()
			b := dialed[len(dialed)-1]
			mu.Unlock()
			b.cut()
			waitDone(t, ref.Conn(), "the cut connection")
			select {
			case <-sc.Done():
				t.Fatal("the server noticed the cut")
			case <-time.After(50 * time.Millisecond):
			}
			ref2, err := client.Dial(ctx, srv.furl)
			if err != nil {
				t.Fatalf("round %d: reconnecting: %v", round, err)
			}
			waitDone(t, sc, "the server's stale connection")
			if !strings.Contains(sc.Err().Error(), "replaced") {
				t.Errorf("the stale connection ended with %v", sc.Err())
			}
			sc2 := serverConnOf(t, srv, ref2)
			if sc2 == sc {
				t.Fatal("the server still uses the stale connection")
			}
			// The deciding side numbered the connections; the other
			// remembers the number it last accepted.
			master, other := server, client
			if !serverDecides {
				master, other = client, server
			}
			master.mu.Lock()
			seq := master.masterSeq[other.TubID()]
			master.mu.Unlock()
			if seq != round+2 { // round 0 made two, each later one one more
				t.Errorf("round %d: the deciding side counted %d connections", round, seq)
			}
			if want := fmt.Sprintf("%s %d", master.incarnation, seq); other.lastConnection(master.TubID()) != want {
				t.Errorf("round %d: last-connection %q, want %q", round, other.lastConnection(master.TubID()), want)
			}
			server.mu.Lock()
			live := server.conns[client.TubID()]
			server.mu.Unlock()
			if live != sc2 {
				t.Fatal("the server's table does not hold the new connection")
			}
		}
	})
}

// TestKeepaliveGoToGo: with a short keepalive, two tubs that say nothing
// keep their connection through PING and PONG.
func TestKeepaliveGoToGo(t *testing.T) {
	_, _, _, ref := dialPair(t, true, WithKeepalive(100*time.Millisecond))
	c := ref.Conn()
	time.Sleep(600 * time.Millisecond)
	select {
	case <-c.Done():
		t.Fatalf("the quiet connection was dropped: %v", c.Err())
	default:
	}
	alive(t, ref)
}

// TestKeepaliveSilentPeer: a peer that negotiated and then says nothing,
// not even PONG, is pinged and then dropped.
func TestKeepaliveSilentPeer(t *testing.T) {
	server := newTestTub(t, WithKeepalive(50*time.Millisecond))
	srv := serveTub(t, server)
	p := mustDialRaw(t, srv.addr, server, rawOpts{})
	start := time.Now()
	got := p.expectClosed(t)
	if len(got) == 0 || got[0] != tokPing {
		t.Errorf("before hanging up the tub sent %x, want a PING first", got)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("dropped after %s, before twice the keepalive", d)
	}
}

// TestKeepaliveStalledReader: a peer that stops reading (and so stops
// answering) is dropped after the keepalive even while a big answer to it
// is stuck in a write.
func TestKeepaliveStalledReader(t *testing.T) {
	server := newTestTub(t, WithKeepalive(100*time.Millisecond))
	srv := serveTub(t, server)
	server.Register("big", &funcObject{f: func(ctx context.Context, c *Call) (any, error) {
		return List{make([]byte, 8<<20), make([]byte, 8<<20), make([]byte, 8<<20), make([]byte, 8<<20)}, nil
	}})
	p := mustDialRaw(t, srv.addr, server, rawOpts{})
	p.call(t, 1, 0, "getReferenceByName", []byte("big"))
	// The answer names the object's clid; read it.
	m, err := p.dec.readMessage()
	if err == nil && m.kind != "answer" {
		err = fmt.Errorf("a %s", m.kind)
	}
	if err == nil || !strings.Contains(err.Error(), "my-reference outside") {
		// The raw decoder has no connection for references; the
		// answer is a my-reference to clid 1.
		t.Fatalf("getReferenceByName: %v", err)
	}
	p.dec = &decoder{r: p.br, limits: Limits{}.withDefaults()}
	p.call(t, 2, 1, "get")
	// Now read nothing: the 32 MiB answer fills the buffers.
	start := time.Now()
	time.Sleep(time.Second)
	got := p.expectClosed(t)
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("dropped only after %s", d)
	}
	if len(got) >= 32<<20 {
		t.Error("the whole answer arrived: the reader never stalled the writer")
	}
}

// TestPingPong: a raw PING gets a PONG with its number.
func TestPingPong(t *testing.T) {
	server := newTestTub(t)
	srv := serveTub(t, server)
	p := mustDialRaw(t, srv.addr, server, rawOpts{})
	for _, c := range []struct{ ping, pong []byte }{
		{x("8e"), x("8f")},
		{x("00 8e"), x("8f")},
		{x("05 8e"), x("05 8f")},
		{x("7f 7f 01 8e"), x("7f 7f 01 8f")},
	} {
		p.send(t, c.ping)
		got := make([]byte, len(c.pong))
		p.tc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(p.br, got); err != nil || string(got) != string(c.pong) {
			t.Fatalf("PING %x: got %x, %v; want %x", c.ping, got, err, c.pong)
		}
	}
	// A PONG is ignored, and a PING inside a message is answered at once.
	p.send(t, x("8f 03 8f"))
	p.send(t, cat(x("00 88 0b 87 01 81 09 8e"))) // half a call, then PING
	got := make([]byte, 2)
	if _, err := io.ReadFull(p.br, got); err != nil || string(got) != string(x("09 8f")) {
		t.Fatalf("PING inside a message: %x, %v", got, err)
	}
	// The rest of that call: getReferenceByName(name="echo").
	p.send(t, cat(x("00 81 12 82"), "getReferenceByName", x("01 88 0c 87 00 81 04 82"), "name", x("04 82"), "echo", x("01 89 00 89")))
	m, err := p.dec.readMessage()
	if err == nil || !strings.Contains(err.Error(), "my-reference outside") {
		t.Fatalf("the answer: %+v, %v", m, err)
	}
}

func mustParse(t testing.TB, c tls.Certificate) *x509Cert {
	t.Helper()
	cert, err := parseCert(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestCallContextEnds: a call whose context ends returns at once; the
// answer that comes later is dropped and the connection lives on.
func TestCallContextEnds(t *testing.T) {
	srv, server, client, ref := dialPair(t, false)
	release := make(chan struct{})
	server.Register("slow", &funcObject{f: func(ctx context.Context, c *Call) (any, error) {
		<-release
		return "late", nil
	}})
	slow, err := client.Dial(testCtx(t), strings.Replace(srv.furl, "/echo", "/slow", 1))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := slow.Call(ctx, "wait"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the context's error", err)
	}
	close(release)
	alive(t, ref)
	if v, err := slow.Call(testCtx(t), "again"); err != nil || v != "late" {
		t.Fatalf("%v, %v", v, err)
	}
}

// TestTubCloseEndsCalls: closing the tub fails the calls that wait.
func TestTubCloseEndsCalls(t *testing.T) {
	roles(t, func(t *testing.T, serverDecides bool) {
		srv, server, client, _ := dialPair(t, serverDecides)
		started := make(chan struct{}, 1)
		server.Register("slow", &funcObject{f: func(ctx context.Context, c *Call) (any, error) {
			started <- struct{}{}
			<-ctx.Done() // the connection's end
			return nil, ctx.Err()
		}})
		slow, err := client.Dial(testCtx(t), strings.Replace(srv.furl, "/echo", "/slow", 1))
		if err != nil {
			t.Fatal(err)
		}
		pending := make(chan error, 1)
		go func() {
			_, err := slow.Call(testCtx(t), "wait")
			pending <- err
		}()
		recv(t, started)
		closed := make(chan error, 1)
		go func() { closed <- server.Close() }()
		if err := recv(t, closed); err != nil {
			t.Fatal(err)
		}
		if err := recv(t, pending); !errors.Is(err, ErrClosed) {
			t.Fatalf("the waiting call: %v", err)
		}
		if _, err := client.Dial(testCtx(t), srv.furl); err == nil {
			t.Fatal("Dial of a closed tub worked")
		}
	})
}

// A tub at its maximum of connections refuses more at once.
func TestMaxConns(t *testing.T) {
	server, err := NewTub(testCert(t, false), WithMaxConns(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	server.SetLocation("tcp:" + ln.Addr().String())
	furl := server.Register("obj", &echo{})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go server.ServeConn(context.Background(), c)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, want := range []bool{true, false} {
		client, err := NewTub(testCert(t, false))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		_, err = client.Dial(ctx, furl)
		if (err == nil) != want {
			t.Errorf("client %d: %v", i, err)
		}
	}
}
