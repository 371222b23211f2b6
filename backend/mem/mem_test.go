package mem

import (
	"testing"

	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/backendtest"
)

func TestBackend(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend { return New() })
}

func BenchmarkBackend(b *testing.B) {
	backendtest.Bench(b, func(b *testing.B) backend.Backend { return New() })
}
