#!/usr/bin/env bash
# What a fresh Debian machine with Go and Rust lacks for `make run` and `make test`:
# nasm and cmake (libjpeg-turbo's build, through the turbojpeg crate), pkg-config, systemd's
# tools (systemd-analyze, systemd-socket-activate for make test-systemd) and the two Python
# packages the vector check uses as reference digests. Idempotent and silent when nothing is
# missing; `make run`, `make test` and .ci/run all call it.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cmake >/dev/null || need_apt+=(cmake)
command -v nasm >/dev/null || need_apt+=(nasm)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v systemd-analyze >/dev/null || need_apt+=(systemd)
command -v systemd-socket-activate >/dev/null || need_apt+=(systemd)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} (first run only)" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! python3 - <<'PY' 2>/dev/null
import importlib.metadata as m, sys
want = [l.split("==") for l in open("protocol/gen/requirements.txt").read().split() if "==" in l]
sys.exit(0 if all(m.version(n) == v for n, v in want) else 1)
PY
then
  echo "setup: installing the vector generator's Python packages (first run only)" >&2
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r protocol/gen/requirements.txt
fi
