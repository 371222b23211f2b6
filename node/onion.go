package node

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// startOnion publishes the node as an onion service when [tor] onion =
// true, as Tahoe does: over Tor's control port (control.port, or that of
// the node's own Tor with launch = true, which is started now), with the
// key of onion.private_key_file, from onion.external_port to the tub's
// listener at 127.0.0.1:onion.local_port. The service lasts while the node
// runs. A tor: hint of tub.location that names another onion address than
// the key's is an error: the node would announce an address it does not
// serve.
func (n *Node) startOnion(ctx context.Context) error {
	t := n.Config.Tor()
	if !t.Onion {
		return nil
	}
	keyPath := n.path(t.OnionPrivateKeyFile)
	b, err := os.ReadFile(keyPath)
	if err != nil {
		return fmt.Errorf("[tor] onion.private_key_file: %w", err)
	}
	key := strings.TrimSpace(string(b))
	control, setting := t.ControlPort, "[tor] control.port"
	if n.tor != nil { // [tor] launch = true: the node's own Tor, started now
		if control, err = n.tor.controlPort(ctx); err != nil {
			return fmt.Errorf("[tor] launch: %w", err)
		}
		setting = "[tor] launch"
	}
	c, err := dialTorControl(ctx, control)
	if err != nil {
		return fmt.Errorf("%s: %w", setting, err)
	}
	host, _, err := c.addOnion(key, t.OnionExternalPort, t.OnionLocalPort)
	if err != nil {
		c.Close()
		return fmt.Errorf("[tor] onion: %w", err)
	}
	for _, h := range n.Config.Node().Location {
		rest, ok := strings.CutPrefix(h, "tor:")
		if !ok {
			continue
		}
		if hh, _, _ := strings.Cut(rest, ":"); strings.EqualFold(hh, host) {
			continue
		} else {
			c.delOnion(host)
			c.Close()
			return fmt.Errorf("%s: [node] tub.location names %s, but the key of [tor] onion.private_key_file is that of %s", n.Config.File(), hh, host)
		}
	}
	n.Log.Info("onion service published", "onion", host, "port", t.OnionExternalPort, "local_port", t.OnionLocalPort)
	if n.tor != nil {
		// The node's own Tor: should it exit, the node stops.
		n.addCloser(func() {
			c.delOnion(host)
			c.Close()
		})
		return nil
	}
	k := &onionKeeper{control: control, key: key, host: host, external: t.OnionExternalPort, local: t.OnionLocalPort,
		log: n.Log.With("service", "tor"), c: c, stop: make(chan struct{}), done: make(chan struct{})}
	k.ctx, k.cancel = context.WithCancel(context.Background())
	go k.keep()
	n.addCloser(k.close)
	return nil
}

// onionKeeper keeps the node's onion service in a Tor reached through
// control.port: Tor removes the service when it restarts (or its control
// connection drops), so the keeper, which notices that the connection
// ended, connects again and adds the service back from its key, trying
// again with growing pauses (up to a minute) while Tor is away.
type onionKeeper struct {
	control, key, host string
	external, local    int
	log                *slog.Logger

	mu      sync.Mutex
	c       *torControl
	closing bool
	stop    chan struct{}
	done    chan struct{}
	ctx     context.Context // ended by close
	cancel  context.CancelFunc
}

func (k *onionKeeper) keep() {
	defer close(k.done)
	for {
		k.mu.Lock()
		c := k.c
		k.mu.Unlock()
		// Nothing is asked of Tor on this connection any more: a read
		// ends only when the connection does (Tor sends no events
		// unasked).
		for {
			if _, err := c.readLine(); err != nil {
				break
			}
		}
		c.Close()
		if k.isClosing() {
			return
		}
		k.log.Warn("Tor's control connection ended; adding the onion service again once Tor is back", "onion", k.host)
		pause := time.Second
		for {
			select {
			case <-k.stop:
				return
			case <-time.After(pause):
			}
			pause = min(2*pause, time.Minute)
			nc, err := k.republish()
			if err != nil {
				k.log.Warn("Tor: adding the onion service again", "err", err, "next_in", pause)
				continue
			}
			k.mu.Lock()
			if k.closing {
				k.mu.Unlock()
				nc.Close()
				return
			}
			k.c = nc
			k.mu.Unlock()
			k.log.Info("onion service published again", "onion", k.host)
			break
		}
	}
}

// republish connects to Tor's control port and adds the service.
func (k *onionKeeper) republish() (*torControl, error) {
	ctx, cancel := context.WithTimeout(k.ctx, controlTimeout)
	defer cancel()
	c, err := dialTorControl(ctx, k.control)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	host, _, err := c.addOnion(k.key, k.external, k.local)
	if err == nil && !strings.EqualFold(host, k.host) {
		err = fmt.Errorf("Tor made %s of the key, not %s", host, k.host)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (k *onionKeeper) isClosing() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.closing
}

// close removes the service: closing the control connection that added
// it makes Tor drop it.
func (k *onionKeeper) close() {
	k.mu.Lock()
	k.closing = true
	c := k.c
	k.mu.Unlock()
	close(k.stop)
	k.cancel()
	c.Close()
	<-k.done
}
