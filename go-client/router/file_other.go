//go:build !unix

package router

import (
	"errors"
	"os"
)

// dupFile is unix-only: files by descriptor (ferry.ResizeRequest.File) reach the daemon over a
// Unix socket, which this platform's build does not dial. A shadow call of such a request
// reports this error instead of a comparison.
func dupFile(*os.File) (*os.File, error) {
	return nil, errors.New("ferry router: duplicating the request's file for the shadow call is not supported on this platform")
}
