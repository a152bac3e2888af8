# ferry: the two commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
FERRYD := $(CURDIR)/target/release/ferryd
PHOTOS ?= $(CURDIR)/tests/data/photos
OUT ?= $(CURDIR)/out/thumbs

.PHONY: all build run test test-vectors test-rust test-go bench clean

all: build

build:
	cargo build --release --locked
	cd go-client && go build ./...

# Builds everything, starts ferryd on a temporary socket, runs the example Go worker over the
# sample photos, prints what happened per image, stops the daemon.
run: build
	FERRYD=$(FERRYD) PHOTOS=$(PHOTOS) OUT=$(OUT) scripts/run-demo.sh

# Every test: the wire vectors against their generator, the Rust suite, the Go suite (which
# starts the real daemon built here).
test: test-vectors test-rust test-go

test-vectors:
	python3 protocol/gen/generate.py --check

test-rust:
	cargo test --locked

test-go:
	cargo build --release --locked
	cd go-client && go vet ./... && FERRYD_BIN=$(FERRYD) go test -count=1 -timeout 20m ./...

clean:
	cargo clean
	rm -rf out
