package goproc_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
)

// The in-process Go path runs the same jobs as ferryd with the same types; its digests are the
// daemon's, byte for byte.
func ExampleProcessor_Checksum() {
	g := goproc.New()
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

// A service that may fall back to the Go path compiles its WebP and AVIF codecs at start-up, in
// the background, so that no request pays for it; and asks Serves before it sends the Go path an
// input it may not read (the router does this itself).
func ExampleWarm() {
	go goproc.Warm()

	g := goproc.New()
	heic := []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic") // the start of a HEIC file
	err := g.Serves(&ferry.ResizeRequest{Image: heic, Width: 400})
	fmt.Println(errors.Is(err, goproc.ErrNotOnGoPath))
	// Output:
	// true
}
