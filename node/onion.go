package node

import (
	"context"
	"fmt"
	"os"
	"strings"
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
	n.addCloser(func() {
		c.delOnion(host)
		c.Close()
	})
	n.Log.Info("onion service published", "onion", host, "port", t.OnionExternalPort, "local_port", t.OnionLocalPort)
	return nil
}
