//go:build !unix

package ferry

// daemonPlatform says whether this platform can talk to ferryd. Not here (Windows, wasm, plan9):
// ferryd does not run, and a file cannot be passed by descriptor. Dial fails with
// ErrUnsupportedPlatform; the in-process Go path (package goproc) and the router's kill switch
// work as anywhere.
const daemonPlatform = false
