//go:build !unix

package main

import "time"

// selfCPU is this process's CPU time so far; without getrusage it is not measured (0), and the
// bench, which needs ferryd and so Linux, does not run here anyway.
func selfCPU() time.Duration { return 0 }
