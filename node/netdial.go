package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/proxy"
)

// DialFunc opens a connection, as net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// ErrNoRoute is wrapped by the errors of an outbound connection that the
// node's [connections] and [tor] settings forbid or cannot make.
var ErrNoRoute = errors.New("no permitted way to reach that address")

// DefaultTorSOCKS is where Tor's SOCKS port is looked for when [tor]
// socks.port is not set: Tor's own default.
const DefaultTorSOCKS = "127.0.0.1:9050"

// outbound is how the node makes its outbound connections, as Tahoe's
// [connections] tcp and [tor] say (docs/anonymity-configuration.rst):
//
//   - tcp = tcp: TCP addresses directly; .onion addresses through Tor.
//   - tcp = tor: every address through Tor's SOCKS port, the host name
//     resolved by Tor (never by this machine's resolver).
//   - tcp = disabled: TCP addresses refused; .onion addresses through Tor.
//   - tcp = i2p: TCP addresses refused (I2P reaches only I2P
//     destinations); .onion addresses through Tor.
//
// .i2p addresses go through I2P's SAM bridge ([i2p] sam.port) in every
// mode, unless [i2p] enabled = false.
type outbound struct {
	mode    string // tcp, tor or disabled
	socks   string // Tor's SOCKS port, host:port ("" until asked of control)
	control string // [tor] control.port, asked for the SOCKS port when socks.port is unset
	direct  *net.Dialer
	torOn   bool      // [tor] enabled
	i2p     *i2pRoute // nil when [i2p] enabled = false
	// launched is the node's own Tor ([tor] launch = true, torlaunch.go),
	// started at the first use; its control port is asked for its SOCKS
	// port, as control.port's is.
	launched *launchedTor

	mu  sync.Mutex
	tor proxy.ContextDialer // built at the first use
}

// newOutbound builds the node's outbound connection policy from its
// configuration. A setting lafs cannot honour yet is an error that names
// it, so that a node never makes a connection its operator did not allow.
func newOutbound(cfg *Config) (*outbound, error) {
	c, t := cfg.Connections(), cfg.Tor()
	o := &outbound{mode: c.TCP, direct: &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}}
	switch c.TCP {
	case "tcp", "tor", "disabled", "i2p":
	default:
		return nil, fmt.Errorf("%s: [connections] tcp = %q: unknown", cfg.File(), c.TCP)
	}
	if t.Launch && (t.ControlPort != "" || t.SocksPort != "") {
		// Tahoe's five valid [tor] combinations have launch alone.
		return nil, fmt.Errorf("%s: [tor] launch = true starts a Tor of the node's own: set either launch or control.port/socks.port, not both", cfg.File())
	}
	o.torOn = t.Enabled
	switch {
	case t.Launch:
		l, err := newLaunchedTor(cfg)
		if err != nil {
			return nil, err
		}
		o.launched = l
	case t.SocksPort != "":
		addr, err := socksAddr(t.SocksPort)
		if err != nil {
			return nil, fmt.Errorf("%s: [tor] socks.port: %w", cfg.File(), err)
		}
		o.socks = addr
	case t.ControlPort != "":
		// As Tahoe does: Tor's control port says where its SOCKS port is.
		o.control = t.ControlPort
	default:
		o.socks = DefaultTorSOCKS
	}
	if i := cfg.I2P(); i.Enabled {
		sam, err := samAddrOf(cfg)
		if err != nil {
			return nil, err
		}
		o.i2p = &i2pRoute{sam: sam, opts: i.SAMOptions}
	}
	if !t.Enabled && c.TCP == "tor" {
		return nil, fmt.Errorf("%s: [connections] tcp = tor, but [tor] enabled = false", cfg.File())
	}
	return o, nil
}

// torDialer returns the SOCKS dialer to Tor and Tor's SOCKS address,
// asking Tor's control port for its SOCKS port the first time if
// socks.port is not set (without holding the lock meanwhile). With
// launch = true, the node's own Tor is started at the first call, and
// every call fails once it has exited.
func (o *outbound) torDialer(ctx context.Context) (proxy.ContextDialer, string, error) {
	control := o.control
	if o.launched != nil {
		c, err := o.launched.controlPort(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("[tor] launch: %w", err)
		}
		control = c
	}
	o.mu.Lock()
	tor, socks := o.tor, o.socks
	o.mu.Unlock()
	if tor != nil {
		return tor, socks, nil
	}
	if socks == "" {
		c, err := dialTorControl(ctx, control)
		if err != nil {
			return nil, "", err
		}
		addr, err := c.socksListener()
		c.Close()
		if err != nil {
			return nil, "", fmt.Errorf("%w %s: %v", ErrTorControl, control, err)
		}
		if socks, err = socksAddr(addr); err != nil {
			return nil, "", fmt.Errorf("%w %s: Tor's SOCKS port %q: %v", ErrTorControl, control, addr, err)
		}
	}
	d, err := proxy.SOCKS5("tcp", socks, nil, o.direct)
	if err != nil {
		return nil, "", err
	}
	cd, ok := d.(proxy.ContextDialer)
	if !ok {
		return nil, "", errors.New("the SOCKS dialer takes no context")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.tor == nil {
		o.tor, o.socks = cd, socks
	}
	return o.tor, o.socks, nil
}

// socksAddr reads [tor] socks.port as Tahoe writes it, a client endpoint
// string: "tcp:HOST:PORT" or "tcp:host=HOST:port=PORT" (or a bare
// HOST:PORT); HOST must be an IP address or localhost, so that reaching
// Tor needs no name lookup.
func socksAddr(s string) (string, error) {
	rest, ok := strings.CutPrefix(s, "tcp:")
	if !ok {
		if strings.Contains(s, ":") && !strings.HasPrefix(s, "unix:") {
			rest = s
		} else {
			return "", fmt.Errorf("%q: want tcp:HOST:PORT", s)
		}
	}
	host, port := "", ""
	if strings.Contains(rest, "=") {
		for _, kv := range strings.Split(rest, ":") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "host":
				host = v
			case "port":
				port = v
			}
		}
	} else if h, p, err := net.SplitHostPort(rest); err == nil {
		host, port = h, p
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%q: no valid port", s)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	if net.ParseIP(host) == nil {
		return "", fmt.Errorf("%q: the host must be an IP address (or localhost)", s)
	}
	return net.JoinHostPort(host, port), nil
}

// dial is the node's DialFunc.
func (o *outbound) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoRoute, err)
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	switch {
	case strings.HasSuffix(h, ".i2p"):
		if o.i2p == nil {
			return nil, fmt.Errorf("%w: %s is an I2P address, and [i2p] enabled = false", ErrNoRoute, host)
		}
		return o.i2p.dial(ctx, h, port)
	case strings.HasSuffix(h, ".onion"):
		if !o.torOn {
			return nil, fmt.Errorf("%w: %s is an onion address, and [tor] enabled = false", ErrNoRoute, host)
		}
		return o.viaTor(ctx, network, addr)
	}
	switch o.mode {
	case "tor":
		return o.viaTor(ctx, network, addr)
	case "disabled":
		return nil, fmt.Errorf("%w: [connections] tcp = disabled: TCP addresses are not reached", ErrNoRoute)
	case "i2p":
		return nil, fmt.Errorf("%w: [connections] tcp = i2p: only I2P (.i2p) addresses are reached", ErrNoRoute)
	}
	return o.direct.DialContext(ctx, network, addr)
}

// viaTor connects through Tor's SOCKS port, Tor resolving the host name.
func (o *outbound) viaTor(ctx context.Context, network, addr string) (net.Conn, error) {
	d, socks, err := o.torDialer(ctx)
	if err != nil {
		return nil, fmt.Errorf("through Tor: %w", err)
	}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("through Tor (SOCKS port %s): %w", socks, err)
	}
	return c, nil
}

// checkHiding refuses, before anything starts, a configuration that asks
// for what lafs cannot do (an I2P router of its own), or that
// would reveal the node's IP address although reveal-IP-address is
// false: a TCP listener on anything but a loopback address. (tcp hints in
// tub.location and [connections] tcp = tcp are refused when the
// configuration is read.) Each error names the setting to change.
func checkHiding(cfg *Config) error {
	nc := cfg.Node()
	for _, ep := range nc.TubListeners {
		switch {
		case ep.Type == "listen:tor" && !cfg.Tor().Onion:
			return fmt.Errorf("%s: [node] tub.port %q needs [tor] onion = true (and its onion.* keys)", cfg.File(), ep.Raw)
		case ep.Type == "listen:i2p" && !cfg.I2P().Dest:
			return fmt.Errorf("%s: [node] tub.port %q needs [i2p] dest = true (and its dest.* keys)", cfg.File(), ep.Raw)
		case !nc.RevealIPAddress && ep.IsTCP() && !loopback(ep.Interface):
			return fmt.Errorf("%s: reveal-IP-address = false, but [node] tub.port %q listens on %s, which others can reach: "+
				"listen on 127.0.0.1 (interface=127.0.0.1) behind an onion service, or set reveal-IP-address = true",
				cfg.File(), ep.Raw, orAll(ep.Interface))
		}
	}
	if i := cfg.I2P(); i.Launch || i.ConfigDir != "" {
		// Tahoe neither: its i2p_provider raises NotImplementedError.
		return fmt.Errorf("%s: [i2p] launch and i2p.configdir are not supported (nor by Tahoe): run an I2P router and set [i2p] sam.port", cfg.File())
	}
	return nil
}

// loopback reports whether iface, a listener's interface, is a loopback
// address ("" is every interface).
func loopback(iface string) bool {
	if iface == "localhost" {
		return true
	}
	ip := net.ParseIP(iface)
	return ip != nil && ip.IsLoopback()
}

func orAll(iface string) string {
	if iface == "" {
		return "every interface"
	}
	return iface
}
