package lafs

// Server is a storage server as a client knows it: its identity, the seeds
// that feed its lease secrets and its place in each permuted list, what it
// announced, and the connection to it.
type Server struct {
	// ID names the server: "v0-" + base32 of its Ed25519 public key for
	// announced servers, or the key under which servers.yaml lists it.
	ID       string
	Nickname string
	// LeaseSeed is the server's raw 20-byte Foolscap tubid (SHA-1 of its
	// TLS certificate); lease secrets and mutable write enablers derive
	// from it.
	LeaseSeed [20]byte
	// PermutationSeed orders the server in each storage index's permuted
	// list (Tahoe's permutation-seed-base32, decoded).
	PermutationSeed []byte
	// MaxImmutableShareSize is the largest immutable share the server
	// takes (from its version); 0 means unknown, taken as no limit.
	MaxImmutableShareSize uint64
	// Storage is the connection to the server.
	Storage StorageServer
}

// Peers is the client's view of the grid: the storage servers it can use
// now. ServersFor returns them in Tahoe's permuted order for si, so that
// every client looks for a file's shares on the same servers first.
type Peers interface {
	ServersFor(si StorageIndex) []*Server
}
