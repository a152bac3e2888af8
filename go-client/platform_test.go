package ferry_test

import (
	"fmt"
	"testing"

	ferry "github.com/ferryd/ferry/go-client"
)

// Retrying cannot make a platform support ferryd, although the error also says ErrUnavailable.
func TestUnsupportedPlatformIsNotSafeToRetry(t *testing.T) {
	err := fmt.Errorf("%w: %w (GOOS windows)", ferry.ErrUnavailable, ferry.ErrUnsupportedPlatform)
	if ferry.SafeToRetry(err) {
		t.Errorf("SafeToRetry(%v) = true", err)
	}
	if !ferry.SafeToRetry(fmt.Errorf("%w: connection refused", ferry.ErrUnavailable)) {
		t.Errorf("a daemon that is down is still safe to retry")
	}
}
