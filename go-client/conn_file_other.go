//go:build !unix

package ferry

import (
	"bufio"
	"fmt"
	"runtime"
)

// writeFileFrame cannot pass a descriptor without Unix's SCM_RIGHTS. It is never reached: no
// connection to the daemon is made on this platform (see daemonPlatform).
func (c *conn) writeFileFrame(bw *bufio.Writer, cl *call) error {
	return fmt.Errorf("%w: passing a file by descriptor on %s", ErrUnsupportedPlatform, runtime.GOOS)
}
