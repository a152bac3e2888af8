package router_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
	"github.com/ferryd/ferry/go-client/router"
)

// A worker builds a Router over a lazily dialled ferry.Client: it starts even while ferryd is down
// (the Go path serves meanwhile), FERRY_ROUTE and FERRY_ROUTE_FILE can switch it at run time,
// and every result says which path served it and why.
func ExampleNew() {
	c, err := ferry.Dial(context.Background(), "/run/ferry/ferryd.sock", ferry.WithLazyConnect())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	r, err := router.New(c, nil, router.WithPolicy(router.Policy{Mode: router.RoutePercentage, RustPercent: 10}))
	if err != nil {
		log.Fatal(err) // FERRY_ROUTE or the policy file holds an invalid policy
	}
	defer r.Close()

	photo, err := os.ReadFile("upload.jpg")
	if err != nil {
		log.Fatal(err)
	}
	// The Key keeps a user's requests on one path while 10% of users are on Rust.
	res, err := r.Resize(context.Background(), ferry.ResizeRequest{Image: photo, Width: 400, Height: 400, Key: "user-42"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Served.Path, res.Served.Reason) // e.g. "go percentage", or "go fallback" while ferryd is down
}

// The kill switch from code: every request to the Go path from the next call on.
func ExampleRouter_SetPolicy() {
	r, err := router.New(goproc.New(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	if err := r.SetPolicy(router.Policy{Mode: router.RouteGo}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Policy())
	// Output: go
}

// Policies as FERRY_ROUTE and the policy file spell them.
func ExampleParsePolicy() {
	for _, s := range []string{"rust", "off", "percentage:25", "shadow"} {
		p, err := router.ParsePolicy(s)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-14s -> %s\n", s, p)
	}
	// Output:
	// rust           -> rust
	// off            -> go
	// percentage:25  -> percentage:25
	// shadow         -> shadow:rust
}

// A service that hands WebP thumbnails to browsers keeps them small when the daemon cannot serve
// (the Go path would write lossless WebP, about 11x larger) by taking JPEG from the fallback,
// and sheds load when both paths are full.
func ExampleWithFallbackFormat() {
	c, err := ferry.Dial(context.Background(), "/run/ferry/ferryd.sock", ferry.WithLazyConnect())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	r, err := router.New(c, goproc.New(goproc.WithQueueWait(200*time.Millisecond)),
		router.WithFallbackFormat(ferry.FormatWebP, ferry.FormatJPEG))
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	photo, err := os.ReadFile("upload.jpg")
	if err != nil {
		log.Fatal(err)
	}
	res, err := r.Resize(context.Background(), ferry.ResizeRequest{Image: photo, Width: 400, Format: ferry.FormatWebP})
	switch {
	case errors.Is(err, router.ErrOverloaded):
		fmt.Println("503 Service Unavailable, Retry-After: 1")
		return
	case ferry.IsInvalidInput(err):
		fmt.Println("422 Unprocessable Entity:", err)
		return
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println(res.Format, res.Served) // webp rust/policy, or jpeg go/fallback while ferryd is down
}

// Cost-aware routing: each request to the path the bench measured faster for it, by the table
// `make bench` wrote on this machine (out/bench/crossover.json), or by the embedded default when
// the option is left out. A small checksum stays in process; the result says why.
func ExampleWithCostTableFile() {
	c, err := ferry.Dial(context.Background(), "/run/ferry/ferryd.sock", ferry.WithLazyConnect())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	r, err := router.New(c, nil, router.WithPolicy(router.Policy{Mode: router.RouteAuto}),
		router.WithCostTableFile("/etc/ferry/crossover.json"))
	if err != nil {
		log.Fatal(err) // the table file is missing or invalid
	}
	defer r.Close()
	res, err := r.Checksum(context.Background(), ferry.ChecksumRequest{Data: []byte("hello"), Algorithms: []ferry.Algorithm{ferry.CRC32C}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Served) // go/cost with a table where CRC32C never reaches the socket
}

// The embedded table: CRC32C never reaches the socket, JPEG thumbnails always do.
func ExampleDefaultCostTable() {
	t := router.DefaultCostTable()
	fmt.Println(t.ChecksumBytes[ferry.CRC32C], t.ResizePixels[ferry.FormatJPEG])
	// Output: never 0
}
