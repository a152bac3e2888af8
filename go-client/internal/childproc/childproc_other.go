//go:build !linux

package childproc

import "os/exec"

// DieWithParent does nothing outside Linux: no other kernel ties a child's life to its parent's,
// so a child there outlives a parent killed before its cleanup ran.
func DieWithParent(cmd *exec.Cmd) {}
