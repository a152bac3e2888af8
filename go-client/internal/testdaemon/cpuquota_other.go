//go:build !linux

package testdaemon

import (
	"fmt"
	"runtime"
)

// LimitCPU needs Linux's cgroups; elsewhere the daemon does not run anyway.
func (d *Daemon) LimitCPU(share float64) (string, error) {
	return "", fmt.Errorf("cgroups are Linux's; not on %s", runtime.GOOS)
}
