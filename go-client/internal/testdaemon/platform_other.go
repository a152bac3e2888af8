//go:build !linux

package testdaemon

// daemonPlatform says whether ferryd runs here: it is built and tested on Linux only, so every
// daemon test elsewhere skips, saying why (see Binary).
const daemonPlatform = false
