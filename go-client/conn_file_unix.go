//go:build unix

package ferry

import (
	"bufio"
	"fmt"
	"net"
	"syscall"
)

// writeFileFrame writes a checksum_file or resize_file frame with its descriptor attached, as
// SPEC.md 5.7 requires: one SCM_RIGHTS control message on the sendmsg that carries the frame's
// first byte. Bytes other frames left in bw go first (a descriptor must not ride on an earlier
// frame's bytes); a short sendmsg is finished with plain writes, the descriptor already sent.
func (c *conn) writeFileFrame(bw *bufio.Writer, cl *call) error {
	if err := bw.Flush(); err != nil {
		return err
	}
	uc, ok := c.nc.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("passing a file needs a Unix socket connection, not %T", c.nc)
	}
	raw, err := cl.file.SyscallConn()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadFile, err)
	}
	frame := cl.frame.Buf // no payload is left out of a *_file frame: it has none
	n := 0
	var sendErr error
	ctlErr := raw.Control(func(fd uintptr) {
		n, _, sendErr = uc.WriteMsgUnix(frame, syscall.UnixRights(int(fd)), nil)
	})
	if ctlErr != nil {
		// The caller's file is closed: nothing was sent, the framing is intact.
		return fmt.Errorf("%w: %v", ErrBadFile, ctlErr)
	}
	if sendErr == nil && n < len(frame) {
		_, sendErr = uc.Write(frame[n:])
	}
	c.moved.wrote(n)
	return sendErr
}
