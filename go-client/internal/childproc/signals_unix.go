//go:build unix

package childproc

import "syscall"

// The signals that freeze, resume and stop a child.
const (
	Stop      = syscall.SIGSTOP
	Continue  = syscall.SIGCONT
	Terminate = syscall.SIGTERM
	Kill      = syscall.SIGKILL
)
