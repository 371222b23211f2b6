package immutable

import (
	"context"
	"fmt"
	"sync"

	"github.com/lafs/lafs"
)

// MemoryShares is a Sink that keeps every share in memory, for tests and
// small files. Its Shares method gives them back for a Reader.
type MemoryShares struct {
	mu     sync.Mutex
	shares map[lafs.ShareNum][]byte
}

// WriteShare implements Sink.
func (m *MemoryShares) WriteShare(ctx context.Context, shnum lafs.ShareNum, off uint64, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.shares == nil {
		m.shares = map[lafs.ShareNum][]byte{}
	}
	b := m.shares[shnum]
	if end := off + uint64(len(data)); end > uint64(len(b)) {
		b = append(b, make([]byte, end-uint64(len(b)))...)
	}
	copy(b[off:], data)
	m.shares[shnum] = b
	return nil
}

// Bytes returns share shnum's data (nil if it was never written).
func (m *MemoryShares) Bytes(shnum lafs.ShareNum) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.shares[shnum]
}

// Shares returns every share written, in share-number order.
func (m *MemoryShares) Shares() []Share {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Share
	for n := lafs.ShareNum(0); len(out) < len(m.shares); n++ {
		if b, ok := m.shares[n]; ok {
			out = append(out, ShareBytes(n, b))
		}
	}
	return out
}

// ShareBytes wraps the bytes of share n's data as a Share.
func ShareBytes(n lafs.ShareNum, data []byte) Share { return byteShare{n, data} }

type byteShare struct {
	num  lafs.ShareNum
	data []byte
}

func (b byteShare) Num() lafs.ShareNum { return b.num }

func (b byteShare) ReadAt(ctx context.Context, off uint64, n int) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("negative read length %d", n)
	}
	if off >= uint64(len(b.data)) {
		return nil, nil
	}
	end := off + uint64(n)
	if end > uint64(len(b.data)) {
		end = uint64(len(b.data))
	}
	return b.data[off:end], nil
}

// Discard is a Sink that drops every share: encoding to it computes a
// file's cap without storing anything.
var Discard Sink = discard{}

type discard struct{}

func (discard) WriteShare(context.Context, lafs.ShareNum, uint64, []byte) error { return nil }
