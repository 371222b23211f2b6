// Package memgrid is a whole storage grid in memory: n real storage
// servers (package storage, keeping their shares in backend/mem) seen
// through lafs.Peers, the interface a client.Client takes its servers
// from. Use it to try lafs, or to test a program that uses package client,
// without starting any node:
//
//	c, err := client.New(client.Config{Params: lafs.DefaultParams, Peers: memgrid.New(10)})
//
// The servers speak the same storage interface as remote ones reached over
// HTTPS; only the network is missing. Everything is lost when the Grid is.
package memgrid

import (
	"crypto/sha256"
	"fmt"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend/mem"
	"github.com/lafs/lafs/grid"
	"github.com/lafs/lafs/storage"
)

// Grid is a set of storage servers in memory. It implements lafs.Peers
// and is safe for concurrent use.
type Grid struct {
	servers []*lafs.Server
	// Storage are the servers, in the order New made them, for programs
	// that want to look at what they hold.
	Storage []*storage.Server
	// Backends hold each server's share containers.
	Backends []*mem.Mem
}

// New starts n servers, each holding up to mem.DefaultCapacity bytes.
// Their ids, lease seeds and places in each permuted list derive from their
// index, so that a program sees the same placements every run.
func New(n int) *Grid {
	g := &Grid{}
	for i := range n {
		seed := sha256.Sum256(fmt.Appendf(nil, "memgrid server %d", i))
		var id lafs.NodeID
		copy(id[:], seed[:])
		b := mem.New()
		s, err := storage.New(b, storage.Config{NodeID: id})
		if err != nil {
			// storage.New fails only on a bad Config, and this one is
			// fixed: a failure is a bug here.
			panic(fmt.Sprintf("memgrid: starting a server: %v", err))
		}
		g.Storage = append(g.Storage, s)
		g.Backends = append(g.Backends, b)
		g.servers = append(g.servers, &lafs.Server{
			ID:              fmt.Sprintf("v0-memory-server-%02d", i),
			Nickname:        fmt.Sprintf("memory-%d", i),
			NodeID:          id,
			PermutationSeed: seed[:],
			Storage:         s,
			Latency:         new(lafs.Latency),
		})
	}
	return g
}

// Servers returns the servers, in the order New made them.
func (g *Grid) Servers() []*lafs.Server { return g.servers }

// ServersFor implements lafs.Peers: every server, in Tahoe's permuted
// order for si.
func (g *Grid) ServersFor(si lafs.StorageIndex) []*lafs.Server {
	return grid.Permute(si, g.servers)
}
