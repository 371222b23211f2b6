package mem

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/lafs/lafs/backend"
)

var _ backend.RecordStore = (*Mem)(nil)

// checkRecordName returns an error unless name is a valid record name. The
// name is quoted and cut short in the error, so that a long or odd name
// does not flood a log.
func checkRecordName(name string) error {
	if !backend.ValidRecordName(name) {
		return fmt.Errorf("mem: invalid record name %.80q", name)
	}
	return nil
}

// PutRecord implements backend.RecordStore. Records do not count against
// the backend's capacity.
func (m *Mem) PutRecord(ctx context.Context, name string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkRecordName(name); err != nil {
		return err
	}
	if len(data) > backend.MaxRecordSize {
		return fmt.Errorf("mem: record %s: %d bytes, more than the %d allowed", name, len(data), backend.MaxRecordSize)
	}
	b := slices.Clone(data)
	if b == nil {
		b = []byte{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.records == nil {
		m.records = make(map[string][]byte)
	}
	m.records[name] = b
	return nil
}

// GetRecord implements backend.RecordStore. The bytes returned are the
// caller's.
func (m *Mem) GetRecord(ctx context.Context, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkRecordName(name); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.records[name]
	if !ok {
		return nil, fmt.Errorf("mem: record %s: %w", name, backend.ErrNotExist)
	}
	return slices.Clone(b), nil
}

// DeleteRecord implements backend.RecordStore.
func (m *Mem) DeleteRecord(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkRecordName(name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.records, name)
	return nil
}

// WalkRecords implements backend.RecordStore. It takes the names that
// match when it starts and calls f without the backend's lock held, so f
// may call the store; a record deleted during the walk may still be
// visited, and one put during it is not.
func (m *Mem) WalkRecords(ctx context.Context, prefix string, f func(name string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	var names []string
	for name := range m.records {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	m.mu.Unlock()
	slices.Sort(names)
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := f(name); err != nil {
			return err
		}
	}
	return nil
}
