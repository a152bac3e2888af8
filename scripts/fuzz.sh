#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: the cargo-fuzz targets in fuzz/ (on the stable
# toolchain, through RUSTC_BOOTSTRAP=1: fuzz/README.md says why) and the Go fuzz targets of
# go-client. `make fuzz` calls it.
#
#   FUZZ_TIME   seconds per target (default 60; a Go target gets as many inputs as it runs in
#               about that time on the dev machine)
#   FUZZ_RUST   0 skips the Rust targets      FUZZ_GO   0 skips the Go targets
#
# New interesting inputs go to fuzz/corpus/<target> (not committed); the committed seeds in
# fuzz/seeds/<target>, past crashes in fuzz/regressions/<target> (and tests/data/photos for
# resize) are read but never written. A crash
# leaves its input in fuzz/artifacts/<target>/ (Go: the package's testdata/fuzz/) and makes the
# script exit non-zero after the other targets have run.
set -uo pipefail
cd "$(dirname "$0")/.."

FUZZ_TIME=${FUZZ_TIME:-60}
FUZZ_RUST=${FUZZ_RUST:-1}
FUZZ_GO=${FUZZ_GO:-1}
failed=()
skipped=()
ran=0

if [ "$FUZZ_RUST" != 0 ]; then
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz from crates.io (first run only, about a minute)" >&2
    cargo install cargo-fuzz --locked || { echo "fuzz: cannot install cargo-fuzz" >&2; exit 1; }
  fi
  # cargo-fuzz passes -Z flags (sanitizer, coverage passes) that only nightly accepts; this
  # lets the stable compiler accept them for this build only.
  export RUSTC_BOOTSTRAP=1
  for target in frame_request resize; do
    extra=()
    [ -d "fuzz/regressions/$target" ] && extra+=("fuzz/regressions/$target")
    [ "$target" = resize ] && extra+=(tests/data/photos)
    mkdir -p "fuzz/corpus/$target"
    echo "fuzz: $target for ${FUZZ_TIME}s" >&2
    if ! cargo fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" "${extra[@]}" -- \
      -max_total_time="$FUZZ_TIME" -timeout=20 -print_final_stats=1; then
      failed+=("rust:$target (input in fuzz/artifacts/$target/)")
    fi
    ran=$((ran + 1))
  done
fi

if [ "$FUZZ_GO" != 0 ]; then
  # target:package:execs per second on the 2-core dev machine. A missing target fails the run
  # (it would otherwise stop being fuzzed unnoticed). The budget is a count of executions,
  # FUZZ_TIME times the rate, not a -fuzztime duration: with a duration, Go 1.26's coordinator
  # can report its own stop as "context deadline exceeded" when a worker is mid-input at the
  # deadline (golang/go#75804, fixed in Go 1.27), which failed CI once with no crasher written.
  for spec in FuzzDecodeReply:./internal/wire:40000 FuzzReadFrame:./internal/wire:60000 FuzzResize:./goproc:150; do
    target=${spec%%:*} rest=${spec#*:}
    pkg=${rest%%:*} rate=${rest#*:}
    # Listed first, grepped after: grep -q closing the pipe early would fail go test under pipefail.
    listed=$( [ -d "go-client/$pkg" ] && cd go-client && go test -list "^${target}\$" "$pkg" 2>/dev/null || true)
    if ! grep -qx "$target" <<<"$listed"; then
      echo "fuzz: go:$target is missing from go-client/${pkg#./}" >&2
      failed+=("go:$target (missing)")
      continue
    fi
    execs=$((FUZZ_TIME * rate))
    echo "fuzz: go:$target for $execs inputs (about ${FUZZ_TIME}s)" >&2
    if ! (cd go-client && go test -run XXX -fuzz "^${target}\$" -fuzztime "${execs}x" -fuzzminimizetime 1s "$pkg"); then
      failed+=("go:$target (input in go-client/${pkg#./}/testdata/fuzz/$target/)")
    fi
    ran=$((ran + 1))
  done
fi

if [ ${#failed[@]} -gt 0 ]; then
  printf 'fuzz: FAILED %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "fuzz: $ran targets ran about ${FUZZ_TIME}s each without a failure${skipped:+; SKIPPED (absent): ${skipped[*]}}" >&2
