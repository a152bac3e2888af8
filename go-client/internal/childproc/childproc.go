// Package childproc holds what tests and benchmarks need to run a child process (ferryd, an echo
// server) the same way on every platform: a child that dies with its parent where the kernel can
// do that (Linux), and the signals that freeze, resume and stop it where they exist (Unix).
package childproc
