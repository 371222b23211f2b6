package immutable

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
)

// remoteShare is a share on a storage server.
type remoteShare struct {
	server *lafs.Server
	si     lafs.StorageIndex
	num    lafs.ShareNum
}

func (r *remoteShare) Num() int { return int(r.num) }

func (r *remoteShare) ReadAt(ctx context.Context, off uint64, n int) ([]byte, error) {
	b, err := r.server.Storage.ReadImmutable(ctx, r.si, r.num, off, uint64(n))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", serverName(r.server), err)
	}
	return b, nil
}

// FindShares asks servers (in permuted order) which shares of si they hold,
// all at once, and returns the shares in the order the answers arrived, so
// that the fastest servers are tried first. It waits at most timeout for
// slow servers once k distinct shares are known.
func FindShares(ctx context.Context, servers []*lafs.Server, si lafs.StorageIndex, k int, timeout time.Duration) []Share {
	type answer struct {
		s      *lafs.Server
		shares []lafs.ShareNum
	}
	ch := make(chan answer, len(servers))
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, s := range servers {
		go func() {
			have, err := s.Storage.ListImmutable(qctx, si)
			if err != nil {
				have = nil
			}
			ch <- answer{s, have}
		}()
	}
	var out []Share
	distinct := map[lafs.ShareNum]bool{}
	var grace <-chan time.Time
	for range servers {
		select {
		case a := <-ch:
			for _, sh := range a.shares {
				out = append(out, &remoteShare{a.s, si, sh})
				distinct[sh] = true
			}
			if len(distinct) >= k && grace == nil {
				// Enough to start; give slower servers a moment to offer
				// spares, then go.
				grace = time.After(50 * time.Millisecond)
			}
		case <-grace:
			return out
		case <-qctx.Done():
			return out
		}
	}
	return out
}

// ErrNoShares means no server holds any share of the file.
var ErrNoShares = errors.New("no shares found")

// Open finds the shares of the CHK file c among peers and returns a Reader
// for it. Shares are fetched from the fastest servers; a server that fails,
// hangs (longer than blockTimeout per read) or lies is dropped and another
// share takes its place without restarting the download.
func Open(ctx context.Context, peers lafs.Peers, c *cap.CHK, blockTimeout time.Duration) (*Reader, error) {
	si := c.StorageIndex()
	servers := peers.ServersFor(si)
	shares := FindShares(ctx, servers, si, c.K, 10*time.Second)
	if len(shares) == 0 {
		return nil, fmt.Errorf("%w: asked %d servers for %s, none holds a share (need %d of %d)", ErrNoShares, len(servers), si, c.K, c.N)
	}
	r, err := NewReader(ctx, c, shares)
	if err != nil {
		return nil, err
	}
	r.BlockTimeout = blockTimeout
	return r, nil
}
