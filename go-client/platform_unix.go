//go:build unix

package ferry

// daemonPlatform says whether this platform can talk to ferryd: a Unix socket, with SCM_RIGHTS
// to pass files. ferryd itself is built and tested on Linux; any Unix client can dial it.
const daemonPlatform = true
