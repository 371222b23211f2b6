package mem

import (
	"testing"

	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/backendtest"
)

func TestRecords(t *testing.T) {
	backendtest.RunRecords(t, func(t *testing.T) backend.RecordStore { return New() })
}
