package node

import (
	"bytes"
	"context"
	"testing"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/client"
)

// roundTrip uploads data with c and reads it back whole, failing t unless
// the same bytes come back. It returns the file's cap.
func roundTrip(t *testing.T, ctx context.Context, c *client.Client, data []byte) cap.Cap {
	t.Helper()
	up, err := c.Upload(ctx, bytes.NewReader(data), int64(len(data)), client.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.OpenFile(ctx, up.Cap)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := f.WriteRange(ctx, &got, 0, -1); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("read back %d bytes of %d, %v", got.Len(), len(data), err)
	}
	return up.Cap
}

// RoundTrip is roundTrip for the tests of package node_test.
var RoundTrip = roundTrip
