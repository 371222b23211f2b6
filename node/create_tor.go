package node

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// createdOnion is the onion service create-node --listen=tor made.
type createdOnion struct {
	control         string // the control port that made it
	host, key       string // xxx.onion, and its key as ADD_ONION gives it
	local, external int
}

// onionKeyFile is where create-node keeps the onion service's key, as
// Tahoe does.
const onionKeyFile = "private/tor_onion.privkey"

// onionExternalPort is the onion service's port, as Tahoe's create-node
// picks it.
const onionExternalPort = 3457

// defaultTorControlPorts are the control ports create-node --listen=tor
// tries when --tor-control-port is not given (Tahoe's list).
var defaultTorControlPorts = []string{"unix:/var/run/tor/control", "tcp:127.0.0.1:9051", "tcp:127.0.0.1:9151"}

// checkTor checks the Tor options as create_node.py does.
func (o CreateOptions) checkTor() error {
	tor := contains(strings.Split(o.Listen, ","), "tor")
	switch {
	case o.TorLaunch || o.TorExecutable != "":
		return usage("--tor-launch and --tor-executable are not supported yet: run tor and give --tor-control-port")
	case o.TorControlPort != "" && !tor:
		return usage("--tor-control-port= requires --listen=tor")
	case strings.ContainsAny(o.TorControlPort, "\r\n"):
		return usage("%q: values may not hold line breaks", o.TorControlPort)
	}
	return nil
}

// makeOnion makes, for --listen=tor, a new onion service through Tor's
// control port (and removes it from Tor again: the node adds it back from
// its key at every start), and returns tub.port and tub.location with the
// service's listener and tor: hint added.
func (o *CreateOptions) makeOnion(port, location string) (string, string, error) {
	if !contains(strings.Split(o.Listen, ","), "tor") {
		return port, location, nil
	}
	ports := defaultTorControlPorts
	if o.TorControlPort != "" {
		ports = []string{o.TorControlPort}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var c *torControl
	var errs []error
	for _, p := range ports {
		var err error
		if c, err = dialTorControl(ctx, p); err == nil {
			o.onion = &createdOnion{control: p}
			break
		}
		errs = append(errs, err)
	}
	if c == nil {
		return "", "", fmt.Errorf("--listen=tor: no Tor control port answered (give --tor-control-port): %w", errors.Join(errs...))
	}
	defer c.Close()
	local, err := allocateTCPPort()
	if err != nil {
		return "", "", err
	}
	host, key, err := c.addOnion("NEW:ED25519-V3", onionExternalPort, local)
	if err != nil {
		return "", "", fmt.Errorf("--listen=tor: %w", err)
	}
	if err := c.delOnion(host); err != nil {
		return "", "", fmt.Errorf("--listen=tor: removing the new onion service until the node starts: %w", err)
	}
	o.onion.host, o.onion.key, o.onion.local, o.onion.external = host, key, local, onionExternalPort
	join := func(a, b string) string {
		if a == "" {
			return b
		}
		return a + "," + b
	}
	return join(port, fmt.Sprintf("tcp:%d:interface=127.0.0.1", local)), join(location, fmt.Sprintf("tor:%s:%d", host, onionExternalPort)), nil
}

// writeTor writes the [connections] and [tor] sections of --hide-ip and
// --listen=tor.
func (o CreateOptions) writeTor(w func(string, ...any)) {
	if o.HideIP {
		w("[connections]\n")
		w("tcp = tor\n")
		w("\n")
	}
	if o.onion == nil {
		return
	}
	w("[tor]\n")
	w("control.port = %s\n", cfgValue(o.onion.control))
	w("onion = true\n")
	w("onion.local_port = %d\n", o.onion.local)
	w("onion.external_port = %d\n", o.onion.external)
	w("onion.private_key_file = %s\n", filepath.FromSlash(onionKeyFile))
	w("\n")
}

// writeOnionKey writes the onion service's key (0600), if one was made.
func (o CreateOptions) writeOnionKey(basedir string) error {
	if o.onion == nil {
		return nil
	}
	return writeNewFile(filepath.Join(basedir, filepath.FromSlash(onionKeyFile)), []byte(o.onion.key), secretFileMode)
}
