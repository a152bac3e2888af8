//go:build !unix

package ferry_test

import (
	"context"
	"errors"
	"testing"

	ferry "github.com/ferryd/ferry/go-client"
)

// Where ferryd cannot run, Dial says so with a typed error, at once, and a lazy Client fails
// every call the same way (the router then serves on the Go path).
func TestDialUnsupportedPlatform(t *testing.T) {
	_, err := ferry.Dial(context.Background(), `C:\ferry\ferryd.sock`)
	if !errors.Is(err, ferry.ErrUnsupportedPlatform) || !errors.Is(err, ferry.ErrUnavailable) {
		t.Fatalf("Dial: %v, want ErrUnsupportedPlatform wrapped in ErrUnavailable", err)
	}
	if ferry.SafeToRetry(err) {
		t.Errorf("SafeToRetry(%v) = true: retrying cannot help on this platform", err)
	}
	c, err := ferry.Dial(context.Background(), `C:\ferry\ferryd.sock`, ferry.WithLazyConnect())
	if err != nil {
		t.Fatalf("lazy Dial: %v", err)
	}
	defer c.Close()
	if err := c.Ping(context.Background()); !errors.Is(err, ferry.ErrUnsupportedPlatform) {
		t.Fatalf("Ping on a lazy Client: %v, want ErrUnsupportedPlatform", err)
	}
}
