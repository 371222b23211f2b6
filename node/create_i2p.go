package node

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// createdI2P is the I2P destination create-node --listen=i2p made.
type createdI2P struct {
	sam      string // the SAM bridge's endpoint, as written to sam.port
	key, b32 string
}

// i2pKeyFile is where create-node keeps the destination's private key,
// as Tahoe does.
const i2pKeyFile = "private/i2p_dest.privkey"

// i2pDestPort is the destination's I2P port, as Tahoe's create-node
// picks it.
const i2pDestPort = 3457

// checkI2P checks the I2P options as create_node.py's
// validate_i2p_options does. --i2p-launch is refused, as Tahoe refuses
// it ("under development"), and so is --i2p-executable, which only a
// launch would use.
func (o CreateOptions) checkI2P() error {
	i2p := contains(strings.Split(o.Listen, ","), "i2p")
	switch {
	case o.I2PLaunch && !i2p:
		return usage("--i2p-launch requires --listen=i2p")
	case o.I2PSAMPort != "" && !i2p:
		return usage("--i2p-sam-port= requires --listen=i2p")
	case o.I2PLaunch && o.I2PSAMPort != "":
		return usage("use either --i2p-launch or --i2p-sam-port=, not both")
	case o.I2PLaunch:
		return usage("--i2p-launch is not supported (nor by Tahoe): run an I2P router with its SAM bridge and give --i2p-sam-port")
	case o.I2PExecutable != "":
		return usage("--i2p-executable is for --i2p-launch, which is not supported")
	}
	if strings.ContainsAny(o.I2PSAMPort, "\r\n") {
		return usage("%q: values may not hold line breaks", o.I2PSAMPort)
	}
	if o.I2PSAMPort != "" {
		if _, err := socksAddr(o.I2PSAMPort); err != nil {
			return usage("--i2p-sam-port: %v", err)
		}
	}
	return nil
}

// makeI2P makes, for --listen=i2p, a new I2P destination through the SAM
// bridge (--i2p-sam-port, else I2P's usual tcp:127.0.0.1:7656), and
// returns tub.port and tub.location with listen:i2p and the destination's
// i2p: hint added, as Tahoe's i2p_provider.create_config does.
func (o *CreateOptions) makeI2P(port, location string) (string, string, error) {
	if !contains(strings.Split(o.Listen, ","), "i2p") {
		return port, location, nil
	}
	sam := o.I2PSAMPort
	if sam == "" {
		sam = DefaultSAMPort
	}
	addr, err := socksAddr(sam)
	if err != nil {
		return "", "", fmt.Errorf("--i2p-sam-port: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	key, b32, err := samGenerateKey(ctx, addr)
	if err != nil {
		return "", "", fmt.Errorf("--listen=i2p: making the destination (give --i2p-sam-port): %w", err)
	}
	o.i2p = &createdI2P{sam: sam, key: key, b32: b32}
	join := func(a, b string) string {
		if a == "" {
			return b
		}
		return a + "," + b
	}
	return join(port, "listen:i2p"), join(location, fmt.Sprintf("i2p:%s:%d", b32, i2pDestPort)), nil
}

// writeI2P writes the [i2p] section of --listen=i2p, with the keys
// Tahoe's create_config writes.
func (o CreateOptions) writeI2P(w func(string, ...any)) {
	if o.i2p == nil {
		return
	}
	w("[i2p]\n")
	w("sam.port = %s\n", cfgValue(o.i2p.sam))
	w("dest = true\n")
	w("dest.port = %d\n", i2pDestPort)
	w("dest.private_key_file = %s\n", filepath.FromSlash(i2pKeyFile))
	w("\n")
}

// writeI2PKey writes the destination's private key (0600), if one was
// made, as txi2p writes it: SAM's string, without a line end.
func (o CreateOptions) writeI2PKey(basedir string) error {
	if o.i2p == nil {
		return nil
	}
	return writeNewFile(filepath.Join(basedir, filepath.FromSlash(i2pKeyFile)), []byte(o.i2p.key), secretFileMode)
}
