//go:build !unix

package childproc

import "syscall"

// The signals that freeze, resume and stop a child. Outside Unix only Kill can be delivered
// (os.Process.Signal refuses the others); Stop and Continue carry their Unix numbers so that
// code naming them compiles, and fails at run time if it ever sends them.
const (
	Stop      = syscall.Signal(0x13)
	Continue  = syscall.Signal(0x12)
	Terminate = syscall.SIGTERM
	Kill      = syscall.SIGKILL
)
