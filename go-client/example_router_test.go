package ferry_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"log"
	"os"

	ferry "github.com/ferryd/ferry/go-client"
)

// A worker builds a Router over a lazily dialled Client: it starts even while ferryd is down
// (the Go path serves meanwhile), FERRY_ROUTE and FERRY_ROUTE_FILE can switch it at run time,
// and every result says which path served it and why.
func ExampleNewRouter() {
	c, err := ferry.Dial(context.Background(), "/run/ferry/ferryd.sock", ferry.WithLazyConnect())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	r, err := ferry.NewRouter(c, nil, ferry.WithPolicy(ferry.Policy{Mode: ferry.RoutePercentage, RustPercent: 10}))
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
	r, err := ferry.NewRouter(ferry.NewGoProcessor(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	if err := r.SetPolicy(ferry.Policy{Mode: ferry.RouteGo}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Policy())
	// Output: go
}

// Policies as FERRY_ROUTE and the policy file spell them.
func ExampleParsePolicy() {
	for _, s := range []string{"rust", "off", "percentage:25", "shadow"} {
		p, err := ferry.ParsePolicy(s)
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

// The in-process Go path runs the same jobs as ferryd with the same types; its digests are the
// daemon's, byte for byte.
func ExampleGoProcessor_Checksum() {
	g := ferry.NewGoProcessor()
	res, err := g.Checksum(context.Background(), ferry.ChecksumRequest{
		Data:       []byte("hello"),
		Algorithms: []ferry.Algorithm{ferry.CRC32C, ferry.SHA256},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(hex.EncodeToString(res.Digests[ferry.CRC32C]), res.Served.Path)
	fmt.Println(hex.EncodeToString(res.Digests[ferry.SHA256]))
	// Output:
	// 9a71bb4c go
	// 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
}
