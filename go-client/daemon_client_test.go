package ferry

import (
	"context"
	"testing"
	"time"

	"github.com/ferryd/ferry/go-client/internal/testdaemon"
)

// startClient starts the real ferryd and returns it with a Client dialled to it; both are undone
// by t.Cleanup. The package's tests against the daemon share it.
func startClient(t *testing.T, flags ...string) (*testdaemon.Daemon, *Client) {
	t.Helper()
	d := testdaemon.Start(t, flags...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, d.Path())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return d, c
}
