# ferryd image: built from the repository root with
#   docker build -f deploy/docker/ferryd.Dockerfile -t ferry/ferryd:0.1.0 .
# The release binary links only glibc, libm and libgcc_s (libjpeg-turbo, libwebp and lcms2 are
# built in statically), so the runtime stage is distroless "cc": no shell, no package manager,
# user 65532 (nonroot).

FROM rust:1-bookworm AS build
# cmake and nasm build libjpeg-turbo (turbojpeg crate); pkg-config finds nothing else.
RUN apt-get update && apt-get install -y --no-install-recommends cmake nasm pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bin ferryd && strip target/release/ferryd

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/ferryd /usr/local/bin/ferryd
# No config baked in: mount one at /etc/ferry/ferryd.toml (--config) or use FERRYD_* variables.
ENV FERRYD_SOCKET=/run/ferry/ferryd.sock
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/ferryd"]
