package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// createdOnion is the onion service create-node --listen=tor made.
type createdOnion struct {
	control         string // the control port that made it ("" with --tor-launch)
	launch          bool   // --tor-launch: made by a tor started for it
	executable      string // --tor-executable
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

// checkTor checks the Tor options as create_node.py does, and refuses
// --tor-executable without --tor-launch (which Tahoe ignores).
func (o CreateOptions) checkTor() error {
	tor := contains(strings.Split(o.Listen, ","), "tor")
	switch {
	case o.TorLaunch && !tor:
		return usage("--tor-launch requires --listen=tor")
	case o.TorControlPort != "" && !tor:
		return usage("--tor-control-port= requires --listen=tor")
	case o.TorLaunch && o.TorControlPort != "":
		return usage("use either --tor-launch or --tor-control-port=, not both")
	case o.TorExecutable != "" && !o.TorLaunch:
		return usage("--tor-executable= requires --tor-launch")
	}
	for _, v := range []string{o.TorControlPort, o.TorExecutable} {
		if strings.ContainsAny(v, "\r\n") {
			return usage("%q: values may not hold line breaks", v)
		}
	}
	return nil
}

// makeOnion makes, for --listen=tor, a new onion service through Tor's
// control port (and removes it from Tor again: the node adds it back from
// its key at every start), and returns tub.port and tub.location with the
// service's listener and tor: hint added. With --tor-launch, the control
// port is that of a tor started for this (launchOnionTor) and stopped
// before makeOnion returns.
func (o *CreateOptions) makeOnion(port, location string) (string, string, error) {
	if !contains(strings.Split(o.Listen, ","), "tor") {
		return port, location, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var c *torControl
	if o.TorLaunch {
		tor, stop, err := launchOnionTor(ctx, o.TorExecutable)
		if err != nil {
			return "", "", err
		}
		defer stop()
		if c, err = dialTorControl(ctx, tor.control); err != nil {
			return "", "", fmt.Errorf("--tor-launch: %w", err)
		}
		o.onion = &createdOnion{launch: true, executable: o.TorExecutable}
	} else {
		ports := defaultTorControlPorts
		if o.TorControlPort != "" {
			ports = []string{o.TorControlPort}
		}
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

// launchOnionTor starts, for create-node --tor-launch, the tor that
// makes the onion key, and returns it with the function that stops it
// and removes its state. Tahoe starts that tor in the new node's
// private/tor-statedir; lafs writes nothing into the node directory
// before every option has been checked (a failed create leaves nothing),
// so this tor keeps its state in a temporary directory instead. Nothing
// of it is worth keeping: it runs for the moment ADD_ONION takes, and the
// key is not kept by tor. The node's own tor, at its first start, makes
// private/tor-statedir afresh.
func launchOnionTor(ctx context.Context, exe string) (*torProcess, func(), error) {
	dir, err := os.MkdirTemp("", "lafs-tor-")
	if err != nil {
		return nil, nil, fmt.Errorf("--tor-launch: %w", err)
	}
	cwd, err := os.Getwd()
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("--tor-launch: %w", err)
	}
	tor, err := startTor(ctx, exe, cwd, dir, "--tor-executable")
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("--tor-launch: %w", err)
	}
	return tor, func() { tor.stop(); os.RemoveAll(dir) }, nil
}

// writeTor writes the [connections] and [tor] sections of --hide-ip and
// --listen=tor: Tahoe's create_config writes control.port, or launch =
// true and tor.executable (when given), then the onion service's keys.
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
	if o.onion.launch {
		w("launch = true\n")
		if o.onion.executable != "" {
			w("tor.executable = %s\n", cfgValue(o.onion.executable))
		}
	} else {
		w("control.port = %s\n", cfgValue(o.onion.control))
	}
	w("onion = true\n")
	w("onion.local_port = %d\n", o.onion.local)
	w("onion.external_port = %d\n", o.onion.external)
	w("onion.private_key_file = %s\n", filepath.FromSlash(onionKeyFile))
	w("\n")
}

// writeOnionKey writes the onion service's key (0600), if one was made,
// and with --tor-launch the node's tor's state directory (0700, empty).
func (o CreateOptions) writeOnionKey(basedir string) error {
	if o.onion == nil {
		return nil
	}
	if err := writeNewFile(filepath.Join(basedir, filepath.FromSlash(onionKeyFile)), []byte(o.onion.key), secretFileMode); err != nil {
		return err
	}
	if o.onion.launch {
		if err := os.Mkdir(filepath.Join(basedir, "private", torStateDir), 0o700); err != nil {
			return fmt.Errorf("tor's state directory: %w", err)
		}
	}
	return nil
}
