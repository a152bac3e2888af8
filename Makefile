# ferry: the two commands are `make run` and `make test` (see README.md). Both start with
# scripts/setup.sh, which installs what a fresh Debian machine lacks and is silent otherwise.
SHELL := /bin/bash
FERRYD := $(CURDIR)/target/release/ferryd
PHOTOS ?= $(CURDIR)/tests/data/photos
OUT ?= $(CURDIR)/out/thumbs
# One cargo profile (release) for the daemon and every test, so the dependency tree is compiled
# once: `cargo test --release` builds target/release/ferryd, which the Go and systemd tests start.
CARGO_TEST := cargo test --release --locked

.PHONY: all setup build run test test-vectors test-rust test-go test-systemd bench clean

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

# Every test: the wire vectors against their generator, the Rust suite, the Go suite (which
# starts the real daemon built here), the systemd units with the daemon built here.
test: setup test-vectors test-rust test-go test-systemd

test-vectors:
	python3 protocol/gen/generate.py --check

test-rust:
	$(CARGO_TEST)

# The daemon is the one `cargo test --release` built (no second compile); `--no-run` is a
# no-op when test-rust ran first and builds it when test-go runs alone.
daemon:
	$(CARGO_TEST) --no-run
.PHONY: daemon

test-go: daemon
	cd go-client && go vet ./... && FERRYD_BIN=$(FERRYD) go test -count=1 -timeout 20m ./...

# The units in systemd/ (systemd-analyze verify and security), and the daemon under socket
# activation, in a sandbox and with NOTIFY_SOCKET; systemd need not be running (systemd/README.md).
test-systemd: daemon
	systemd/test.sh $(FERRYD)

# The bench harness over a corpus of photos (CORPUS, default ../shared/corpus; benches/README.md
# says how to fetch it): the Rust kernels' own figures, then the socket path against the Go path
# in one run; the report lands in out/bench/report.md with its SVG plots.
CORPUS ?= $(CURDIR)/../shared/corpus
bench: build
	python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "pyvips[binary]" || echo "no pyvips: the libvips line is skipped"
	pkg-config --exists vips || { sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; $$sudo apt-get install -y -qq libvips-dev >/dev/null; } || echo "no libvips-dev: the govips line is skipped"
	mkdir -p out/bench
	set -o pipefail; FERRY_CORPUS=$(CORPUS) FERRY_BENCH_JSON=$(CURDIR)/out/bench/kernels.json cargo bench --locked --bench corpus | tee out/bench/corpus.txt
	cd go-client && go run ./cmd/ferry-bench -ferryd $(FERRYD) -corpus $(CORPUS) -out $(CURDIR)/out/bench -kernels $(CURDIR)/out/bench/kernels.json -repo $(CURDIR) -rounds 3

clean:
	cargo clean
	rm -rf out
