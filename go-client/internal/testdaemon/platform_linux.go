package testdaemon

// daemonPlatform says whether ferryd runs here: it is built and tested on Linux only.
const daemonPlatform = true
