#!/usr/bin/env bash
# Builds and vets the Go module (go-client) for every platform it promises: linux, darwin and
# windows, each on amd64 and arm64. `go vet` type-checks the test files too, so a test that
# needs Linux must say so with a build tag rather than break another platform's vet. Nothing is
# run: this proves that the module compiles where a Go team develops (macOS), builds (Windows)
# and deploys (arm64 servers). Warm, the six targets take well under a minute on 2 cores.
#
#   CROSS_TARGETS   override the list, e.g. "darwin/arm64 windows/amd64"
set -uo pipefail
cd "$(dirname "$0")/../go-client"

targets=${CROSS_TARGETS:-"linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64"}
failed=()
for target in $targets; do
  goos=${target%/*} goarch=${target#*/}
  start=$(date +%s)
  # CGO off: a cross build has no C toolchain for the target, and the module needs none.
  if GOOS=$goos GOARCH=$goarch CGO_ENABLED=0 go build ./... &&
     GOOS=$goos GOARCH=$goarch CGO_ENABLED=0 go vet ./...; then
    echo "cross-check: $target ok ($(( $(date +%s) - start )) s)"
  else
    echo "cross-check: $target FAILED" >&2
    failed+=("$target")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "cross-check: failed for ${failed[*]}" >&2
  exit 1
fi
echo "cross-check: all ${targets// /, } build and vet"
