package main

import "context"

func debugCommands() []command {
	return []command{
		{"dump-cap", "print every field of a capability", runDebugDumpCap},
		{"chk-cap", "print the CHK cap a file would get, without a grid", runDebugCHKCap},
		{"dump-share", "print what a share file holds (parameters, hashes, leases)", runDebugDumpShare},
		{"find-shares", "list the share files of a storage index in node directories", runDebugFindShares},
		{"catalog-shares", "print one line about every share in node directories", runDebugCatalogShares},
		{"corrupt-share", "flip one bit of a share file's block data", runDebugCorruptShare},
	}
}

func runDebug(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "lafs debug", debugCommands(), args)
}
