package main

import "context"

func debugCommands() []command {
	return []command{
		{"dump-cap", "print every field of a capability", runDebugDumpCap},
		{"chk-cap", "print the CHK cap a file would get, without a grid", runDebugCHKCap},
	}
}

func runDebug(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "lafs debug", debugCommands(), args)
}
