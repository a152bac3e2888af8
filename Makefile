# ferry: the two commands are `make run` and `make test` (see README.md). Both start with
# scripts/setup.sh, which installs what a fresh Debian machine lacks and is silent otherwise.
SHELL := /bin/bash
FERRYD := $(CURDIR)/target/release/ferryd
PHOTOS ?= $(CURDIR)/tests/data/photos
OUT ?= $(CURDIR)/out/thumbs
# One cargo profile (release) for the daemon and every test, so the dependency tree is compiled
# once: `cargo test --release` builds target/release/ferryd, which the Go and systemd tests start.
CARGO_TEST := cargo test --release --locked

.PHONY: all setup build run test test-vectors test-rust test-go test-systemd test-deploy test-deps test-cross bench overload fuzz fuzz-jpeg clean install

all: build

setup:
	@scripts/setup.sh

# `cargo test --no-run` rather than `cargo build`: the test binaries' dev-dependencies change a
# few crates' features, and building the daemon the same way as the tests means make run and
# make test share every compiled crate (a plain cargo build would recompile image and others).
build: setup daemon
	cd go-client && go build ./...

# Builds everything, starts ferryd on a socket under out/, runs the example Go worker over the
# sample photos, prints what happened per image, stops the daemon and removes its files.
run: build
	FERRYD=$(FERRYD) PHOTOS=$(PHOTOS) OUT=$(OUT) scripts/run-demo.sh

# Every test: the wire vectors against their generator, the Rust suite (the panic-isolation
# test first, on a daemon built with the fault-injection feature), the Go suite (which starts
# the real daemon built here) with a short pass of each Go fuzz target, the systemd units with
# the daemon built here, the Kubernetes manifests, the dependency licences, and the builds for
# other machines (the daemon for arm64 Linux, the Go module for macOS and Windows).
test: setup test-vectors test-rust test-go test-fuzz-go test-systemd test-deploy test-deps test-cross

test-vectors:
	python3 protocol/gen/generate.py --check

# The fault-injection build only recompiles ferryd itself (features change no dependency); it
# runs first because the plain build after it puts the normal daemon back in target/release.
# The overload tests judge latency against an unloaded baseline, so they run last and alone
# (marked ignored, so that the parallel suite leaves them out).
test-rust:
	$(CARGO_TEST) --features fault-injection --test panics
	$(CARGO_TEST)
	$(CARGO_TEST) --test daemon -- --ignored --test-threads=1 overload::

# The daemon is the one `cargo test --release` built (no second compile); `--no-run` is a
# no-op when test-rust ran first and builds it when test-go runs alone.
daemon:
	$(CARGO_TEST) --no-run
.PHONY: daemon

test-go: daemon
	cd go-client && go vet ./... && FERRYD_BIN=$(FERRYD) go test -count=1 -timeout 20m ./...

# The Go fuzz targets for a few seconds each (make fuzz runs every target, Rust's too, longer).
test-fuzz-go:
	FUZZ_RUST=0 FUZZ_TIME=5 scripts/fuzz.sh

# Every fuzz target (cargo-fuzz on the stable toolchain, go test -fuzz) for FUZZ_TIME seconds
# each (default 60); fuzz/README.md. Not in make test: cargo-fuzz's sanitizer build of the
# dependency tree takes about half an hour the first time on 2 cores.
fuzz:
	scripts/fuzz.sh

# The differential JPEG target alone (the own progressive decoder against libjpeg at 1/8 and
# 1/4), on every CPU for FUZZ_TIME seconds (default 600), then merged into the committed corpus
# fuzz/corpora/jpeg_differential; prints the CPU time and the findings (fuzz/README.md).
fuzz-jpeg:
	scripts/fuzz-jpeg-differential.sh

# Issue 8's hostile cases against a real daemon under a 4 GiB address-space limit: peak RSS,
# time, survival per case. Heavy (minutes, gigabytes of traffic); not in make test, whose
# tests/daemon/limits and overload run bounded versions of each.
soak: daemon
	python3 scripts/soak-limits.py --ferryd $(FERRYD) --ulimit-v 4194304

# Issue 21's overload harness: the plain ferry.Client and router.New(client, nil) side by side,
# against a ferryd the harness starts itself, at 2/8/64/320 callers x 1 s/5 s deadlines x with and
# without CPU-burning goroutines, then the daemon under half a core (a cgroup: needs root, else
# skipped loudly) and SIGKILLed mid-run. About 4 minutes on 2 cores; the report, with its bars
# marked PASS or MISS, lands in benches/report/overload/ (benches/README.md, "Overload").
# The committed run before issue 21's fixes (before.json), when present, is set beside the new one.
# OVERLOAD_ARGS adds flags, e.g. OVERLOAD_ARGS='-cell 10s -strict'. make test runs a 3 s cell.
OVERLOAD_ARGS ?=
OVERLOAD_BEFORE := $(wildcard $(CURDIR)/benches/report/overload/before.json)
overload: daemon
	cd go-client && go run ./cmd/ferry-overload -ferryd $(FERRYD) -photos $(PHOTOS) -out $(CURDIR)/benches/report/overload -repo $(CURDIR) $(if $(OVERLOAD_BEFORE),-before $(OVERLOAD_BEFORE)) $(OVERLOAD_ARGS)

# The units in systemd/ (systemd-analyze verify and security), and the daemon under socket
# activation, in a sandbox and with NOTIFY_SOCKET; systemd need not be running (systemd/README.md).
test-systemd: daemon
	systemd/test.sh $(FERRYD)

# The Kubernetes manifests, decoded strictly with the upstream API types (deploy/kubernetes is
# its own Go module, so the client does not depend on k8s.io).
test-deploy:
	cd deploy/kubernetes && go vet ./... && go test -count=1 ./...

# Dependency licences, bans and sources against deny.toml (cargo-deny reads crates.io metadata
# only; the advisory check needs GitHub and is run before releases: docs/OPERATIONS.md).
# `cargo fetch` first: the build downloads only the crates of this machine's target, while cargo
# deny reads every target's (the Windows crates, r-efi), and --offline would find them missing.
test-deps:
	@command -v cargo-deny >/dev/null || { echo "cargo-deny missing: scripts/setup.sh installs it" >&2; exit 1; }
	cargo fetch --locked --quiet
	cargo deny --offline check licenses bans sources

# Builds for the machines Go teams develop and serve on. The daemon for arm64 Linux, type-checked
# with every target (tests, benches) and warnings denied, so code that only x86_64 uses is gated
# rather than dead there; its C libraries are built with Debian's aarch64 cross compiler
# (scripts/setup.sh installs it and the Rust target). The Go module for Linux, macOS and Windows
# on amd64 and arm64: go build and go vet (which compiles the tests too).
AARCH64_LINKER := CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
# libheif-sys asks pkg-config for libheif, which refuses to answer for another target unless
# allowed: `cargo check` links nothing and the crate's bindings are pregenerated, so the host's
# answer lets every line of ferryd (the HEIF code included) be type-checked for arm64; a real
# arm64 build links Debian's libheif-dev:arm64.
test-cross:
	$(AARCH64_LINKER) PKG_CONFIG_ALLOW_CROSS=1 RUSTFLAGS="-D warnings" cargo check --locked --release --quiet --target aarch64-unknown-linux-gnu --all-targets
	scripts/cross-check.sh

# The bench harness over a corpus of photos (CORPUS, default ../shared/corpus; benches/README.md
# says how to fetch it) plus the painted detail corpus and the full-decode references it writes
# (quality_reference): the Rust kernels' own figures, then the socket path against the Go path
# and libvips in one run; the report lands in out/bench/report.md with its SVG plots.
CORPUS ?= $(CURDIR)/../shared/corpus
bench: build
	python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "pyvips[binary]" || echo "no pyvips: the libvips line is skipped"
	pkg-config --exists vips || { sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; $$sudo apt-get install -y -qq libvips-dev >/dev/null; } || echo "no libvips-dev: the govips line is skipped"
	mkdir -p out/bench
	FERRY_CORPUS=$(CORPUS) FERRY_DETAIL_OUT=$(CURDIR)/out/bench/detail FERRY_REFERENCE_OUT=$(CURDIR)/out/bench/reference cargo bench --locked --bench quality_reference >/dev/null
	set -o pipefail; FERRY_CORPUS=$(CORPUS) FERRY_DETAIL=$(CURDIR)/out/bench/detail FERRY_BENCH_JSON=$(CURDIR)/out/bench/kernels.json cargo bench --locked --bench corpus | tee out/bench/corpus.txt
	cd go-client && go run ./cmd/ferry-bench -ferryd $(FERRYD) -corpus $(CORPUS) -detail $(CURDIR)/out/bench/detail -reference $(CURDIR)/out/bench/reference -out $(CURDIR)/out/bench -kernels $(CURDIR)/out/bench/kernels.json -repo $(CURDIR) -rounds 3

clean:
	cargo clean
	rm -rf out

# Installs the daemon built by `cargo build --release --locked` (nothing is built here, so it
# works as root on a tree built by a user): the binary stripped, the systemd units with
# ExecStart= pointing at it, the sysusers file, and the sample config (an existing one is kept).
# DESTDIR stages into another root (packages, tests); PREFIX and SYSCONFDIR as usual.
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
install:
	@test -x $(FERRYD) || { echo "no $(FERRYD): run cargo build --release --locked first" >&2; exit 1; }
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(SYSCONFDIR)/ferry
	install -s -m 0755 $(FERRYD) $(DESTDIR)$(PREFIX)/bin/ferryd
	sed -e 's|/usr/local/bin/ferryd|$(PREFIX)/bin/ferryd|g' -e 's|/etc/ferry/|$(SYSCONFDIR)/ferry/|g' \
		systemd/ferryd.service >$(DESTDIR)$(UNITDIR)/ferryd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/ferryd.service
	install -m 0644 systemd/ferryd.socket systemd/ferryd-metrics.socket $(DESTDIR)$(UNITDIR)/
	install -m 0644 systemd/ferry.sysusers $(DESTDIR)$(SYSUSERSDIR)/ferry.conf
	test -e $(DESTDIR)$(SYSCONFDIR)/ferry/ferryd.toml || install -m 0644 deploy/ferryd.toml $(DESTDIR)$(SYSCONFDIR)/ferry/ferryd.toml
