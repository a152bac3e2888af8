// Package testclient starts the real ferryd (through testdaemon) and dials a ferry.Client to it,
// for the tests of the packages built on the client (goproc's differential tests, the router's
// fault tests). The root package's own tests cannot import it (it imports the root package), so
// they keep a helper of their own.
package testclient

import (
	"context"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/internal/testdaemon"
)

// Start starts ferryd with the given extra flags and returns it with a Client dialled to it; both
// are undone by t.Cleanup. Without a ferryd binary the test is skipped or failed as testdaemon
// decides (never silently).
func Start(t *testing.T, flags ...string) (*testdaemon.Daemon, *ferry.Client) {
	t.Helper()
	d := testdaemon.Start(t, flags...)
	return d, Dial(t, d.Path())
}

// Dial dials a Client to the daemon at path with opts, closed by t.Cleanup.
func Dial(t *testing.T, path string, opts ...ferry.Option) *ferry.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ferry.Dial(ctx, path, opts...)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
