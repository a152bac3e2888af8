//go:build unix

package router

import (
	"fmt"
	"os"
	"syscall"
)

// dupFile gives a shadow call a descriptor of its own for a request's File: the caller may
// close its file as soon as its own call returns, while the shadow still runs. Both share the
// file offset, which neither path moves (both read with pread). The shadow closes the copy.
func dupFile(f *os.File) (*os.File, error) {
	raw, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var dup int
	var dupErr error
	if err := raw.Control(func(fd uintptr) {
		syscall.ForkLock.RLock()
		defer syscall.ForkLock.RUnlock()
		if dup, dupErr = syscall.Dup(int(fd)); dupErr == nil {
			syscall.CloseOnExec(dup)
		}
	}); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, fmt.Errorf("ferry router: duplicating the request's file for the shadow call: %w", dupErr)
	}
	return os.NewFile(uintptr(dup), f.Name()), nil
}
