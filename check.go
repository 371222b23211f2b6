package lafs

import "time"

// CheckOptions says how deeply a check looks at a file's shares.
type CheckOptions struct {
	// Verify downloads every share whole and checks every hash in it,
	// instead of believing each server's list of the shares it holds.
	Verify bool
	// AddLease adds or renews this client's lease on every share found.
	AddLease bool
	// Repair regenerates missing and bad shares when the check finds the
	// file unhealthy (CheckAndRepair only).
	Repair bool
	// ServerTimeout bounds how long one server may take to answer a
	// question before the check counts it as not responding (0: 10 s).
	ServerTimeout time.Duration
}

// ShareLocation names one share of one file on one server.
type ShareLocation struct {
	Server       string // Server.ID
	StorageIndex StorageIndex
	Num          ShareNum
}

// CheckResult is what a check (or verify) found of one file or directory
// on the grid, in Tahoe's terms (its ICheckResults). The web API renders it
// as Tahoe's JSON; nothing in it is a capability.
type CheckResult struct {
	StorageIndex StorageIndex
	// Healthy is Tahoe's health: every one of the N shares was found good.
	Healthy bool
	// Recoverable: at least k good shares of one version were found.
	Recoverable bool
	// Summary is Tahoe's one-line verdict ("Healthy", "Not Healthy: 9
	// shares (enc 3-of-10)", ...).
	Summary string
	// SharesNeeded and SharesExpected are the file's k and N.
	SharesNeeded, SharesExpected int
	// GoodShares counts the distinct share numbers found good (of the
	// best version, for mutable files).
	GoodShares int
	// GoodShareHosts counts the servers holding at least one good share.
	GoodShareHosts int
	// Happiness is the servers-of-happiness value of the good shares (for
	// mutable files, as Tahoe counts it: over the shares of every version).
	Happiness int
	// Corrupt lists the shares whose hashes failed (verify) or whose
	// server could not parse them.
	Corrupt []ShareLocation
	// Incompatible lists the shares of a format this client does not read.
	Incompatible []ShareLocation
	// ServersResponding lists the IDs of the servers that answered.
	ServersResponding []string
	// ShareMap maps a share's label to the IDs of the servers holding it
	// good: the share number for immutable files ("3"), Tahoe's version
	// and share label for mutable ones ("seq4-qait-sh3").
	ShareMap map[string][]string
	// WrongShares counts shares of a version other than the best one.
	WrongShares int
	// RecoverableVersions and UnrecoverableVersions count the versions
	// found with and without k good shares.
	RecoverableVersions, UnrecoverableVersions int
	// Report says, line by line, what the check saw (Tahoe's report).
	Report []string
}

// RepairResult is what a check with Repair found and did.
type RepairResult struct {
	StorageIndex StorageIndex
	// Attempted says a repair ran (only when the check found the file
	// unhealthy and recoverable).
	Attempted bool
	// Successful says the file was healthy after the repair.
	Successful bool
	// PreRepair is the check before any repair; PostRepair the check after
	// it (the same as PreRepair when none was attempted).
	PreRepair, PostRepair *CheckResult
	// Placed lists the shares the repair stored.
	Placed []ShareLocation
}
