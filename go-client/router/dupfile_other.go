//go:build !unix

package router

import (
	"fmt"
	"os"
	"runtime"
)

// dupFile gives a shadow call a descriptor of its own for a request's File (see the Unix
// version). Without dup(2) the shadow call of a file request fails with this error; shadow mode
// compares against the daemon, which does not run on this platform anyway.
func dupFile(f *os.File) (*os.File, error) {
	return nil, fmt.Errorf("ferry router: duplicating the request's file for the shadow call: not supported on %s", runtime.GOOS)
}
