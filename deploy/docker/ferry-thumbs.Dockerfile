# The example Go worker (go-client/cmd/ferry-thumbs), built from the repository root with
#   docker build -f deploy/docker/ferry-thumbs.Dockerfile -t ferry/ferry-thumbs:0.1.0 .
# Pure Go (CGO off): the runtime stage is distroless "static", user 65532 (nonroot). Your own
# service built on go-client/ is packaged the same way.

FROM golang:1.26-bookworm AS build
WORKDIR /src/go-client
COPY go-client/go.mod go-client/go.sum ./
RUN go mod download
COPY go-client ./
# The Go path reads nothing from protocol/ at run time (tests do); only the client is copied.
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/ferry-thumbs ./cmd/ferry-thumbs

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ferry-thumbs /usr/local/bin/ferry-thumbs
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/ferry-thumbs"]
