#!/usr/bin/env bash
# The differential fuzz target (fuzz/fuzz_targets/jpeg_differential.rs: the own progressive JPEG
# decoder against libjpeg-turbo at 1/8 and 1/4) for FUZZ_TIME seconds on FUZZ_JOBS processes,
# then the CPU time it used and what it found. `make fuzz-jpeg` calls it; fuzz/README.md says more.
#
#   FUZZ_TIME   seconds of wall time (default 600)
#   FUZZ_JOBS   libFuzzer processes in fork mode (default: one per CPU)
#   FUZZ_MERGE  1 (default) merges what the run found into the committed corpus,
#               fuzz/corpora/jpeg_differential, keeping only inputs that add coverage
#
# Built without a sanitizer, in its own target directory: the differences this target looks for
# are wrong pixels, not memory errors (the `resize` target runs the same decoder under
# AddressSanitizer), and without one it runs about three times as many inputs per second.
# Findings (a different picture, or pixels where libjpeg refuses) land in
# fuzz/artifacts/jpeg_differential/ and the run goes on (-ignore_crashes); the script then
# exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_TIME=${FUZZ_TIME:-600}
FUZZ_JOBS=${FUZZ_JOBS:-$(nproc)}
FUZZ_MERGE=${FUZZ_MERGE:-1}
target=jpeg_differential
export RUSTC_BOOTSTRAP=1   # cargo-fuzz's flags on the stable compiler (fuzz/README.md)
fuzz=(cargo fuzz run -s none --target-dir fuzz/target/no-sanitizer "$target")

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p "fuzz/corpus/$target" "fuzz/corpora/$target" "fuzz/regressions/$target" "fuzz/artifacts/$target"
before=$(ls "fuzz/artifacts/$target" | wc -l)
log=$(mktemp)
started=$(date +%s)
TIMEFORMAT='%U %S'
status=0
# A finding makes libFuzzer exit non-zero at the end even with -ignore_crashes: keep going to
# the report, which counts findings by the files they left.
{ time "${fuzz[@]}" "fuzz/corpus/$target" "fuzz/corpora/$target" "fuzz/seeds/$target" "fuzz/regressions/$target" -- \
  -fork="$FUZZ_JOBS" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -timeout=10 \
  -max_total_time="$FUZZ_TIME" -artifact_prefix="fuzz/artifacts/$target/" >"$log" 2>&1 || status=$?; } 2>"$log.time"
cpu=$(tail -1 "$log.time")
wall=$(( $(date +%s) - started ))
read -r user sys <<<"$cpu"
last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
found=$(( $(ls "fuzz/artifacts/$target" | wc -l) - before ))
echo "fuzz-jpeg: ${wall}s wall, $(awk -v u="$user" -v s="$sys" 'BEGIN{printf "%.0f s CPU (%.2f CPU-hours)", u+s, (u+s)/3600}'), $FUZZ_JOBS processes"
echo "fuzz-jpeg: last status: $last"
echo "fuzz-jpeg: $found new findings in fuzz/artifacts/$target/; libFuzzer exit status $status; full log $log"
if [ "$FUZZ_MERGE" = 1 ]; then
  "${fuzz[@]}" "fuzz/corpora/$target" "fuzz/corpus/$target" -- -merge=1 >>"$log" 2>&1
  echo "fuzz-jpeg: committed corpus now $(ls "fuzz/corpora/$target" | wc -l) inputs (fuzz/corpora/$target)"
fi
[ "$found" -eq 0 ] && grep -qE '^#[0-9]+' "$log"
