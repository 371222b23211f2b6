package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/lafs/lafs/cap"
)

const attenuateHelp = `usage: lafs attenuate CAP

Print the next weaker cap of CAP, computed locally (no node is needed):
a write cap's read cap, a read cap's verify cap. Directory caps attenuate
the same way (URI:DIR2 -> URI:DIR2-RO -> URI:DIR2-Verifier).`

// runAttenuate diminishes a cap by one step: write -> read -> verify.
func runAttenuate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "attenuate", attenuateHelp)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("%s", attenuateHelp)
	}
	weaker, err := attenuate(strings.TrimSpace(fs.Arg(0)))
	if err != nil {
		return failf("lafs attenuate: %v", err)
	}
	fmt.Fprintln(e.stdout, weaker)
	return nil
}

// attenuate returns the cap one step weaker than s.
func attenuate(s string) (string, error) {
	c, err := cap.Parse(s)
	if err != nil {
		return "", err
	}
	if _, ok := c.(*cap.Unknown); ok {
		return "", fmt.Errorf("not a cap of a kind this version knows")
	}
	if !c.IsReadOnly() {
		return c.ReadOnly().String(), nil
	}
	if cap.IsVerifier(c) {
		return "", fmt.Errorf("already a verify cap, the weakest there is")
	}
	v := c.Verifier()
	if v == nil {
		return "", fmt.Errorf("a literal cap holds its data and has no verify cap")
	}
	return v.String(), nil
}
