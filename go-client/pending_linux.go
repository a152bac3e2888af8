package ferry

import (
	"net"
	"syscall"
	"unsafe"
)

// repliesWaiting reports whether the daemon's bytes sit in this connection's socket, unread: then
// the daemon answered and this process has not yet run its reader (CPU starvation), so the
// silence is ours, not the daemon's. It asks the kernel (ioctl FIONREAD); false when it cannot.
func (c *conn) repliesWaiting() bool {
	uc, ok := c.nc.(*net.UnixConn)
	if !ok {
		return false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return false
	}
	var n int32
	var errno syscall.Errno
	if raw.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	}) != nil || errno != 0 {
		return false
	}
	return n > 0
}
