#!/usr/bin/env bash
# The main job: ferryd on a temporary socket, the example Go worker over the sample photos.
# Called by `make run` with FERRYD, PHOTOS and OUT set.
set -euo pipefail
: "${FERRYD:?path to the ferryd binary}" "${PHOTOS:?directory of photos}" "${OUT:?output directory}"

# Everything this run writes lives under out/: the socket and the worker binary in out/run
# (removed on exit, whatever happens), the daemon's log in out/ferryd.log, thumbnails in $OUT.
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/out/run"
log="$root/out/ferryd.log"
rm -rf "$dir"; mkdir -p "$dir"
sock="$dir/ferryd.sock"
# A Unix socket path holds at most 107 bytes: from a deeply nested clone, use a short temp dir
# (still removed on exit).
if [ ${#sock} -gt 100 ]; then dir=$(mktemp -d /tmp/ferry.XXXXXX); sock="$dir/ferryd.sock"; fi
cleanup() {
  if [ -n "${pid:-}" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid" || true
  fi
  rm -rf "$dir"
  echo "daemon log: $log"
}
trap cleanup EXIT INT TERM

"$FERRYD" --socket "$sock" >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  [ -S "$sock" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "ferryd exited early" >&2; exit 1; }
  sleep 0.05
done
[ -S "$sock" ] || { cat "$log"; echo "ferryd did not create $sock" >&2; exit 1; }
echo "ferryd pid $pid listening on $sock"

mkdir -p "$OUT"
worker="$dir/ferry-thumbs"
(cd "$root/go-client" && go build -o "$worker" ./cmd/ferry-thumbs)

echo; echo "== 1. through the router, policy rust: ferryd makes the thumbnails"
"$worker" -socket "$sock" -in "$PHOTOS" -out "$OUT"

echo; echo "== 2. three sizes from one request per photo (one decode), each photo passed by descriptor"
"$worker" -socket "$sock" -in "$PHOTOS" -out "$OUT/sizes" -sizes 1600,800,200 -by-file

echo; echo "== 3. the kill switch (-route go, or FERRY_ROUTE=go): the in-process Go path, same photos"
"$worker" -socket "$sock" -in "$PHOTOS" -out "$OUT/go" -route go

echo; echo "== 4. ferryd stopped (SIGTERM): the router falls back to Go by itself"
kill -TERM "$pid"; wait "$pid" || true
"$worker" -socket "$sock" -in "$PHOTOS" -out "$OUT/fallback" -concurrency 1
echo
echo "thumbnails in $OUT (three sizes: $OUT/sizes, Go path: $OUT/go, fallback: $OUT/fallback)"
