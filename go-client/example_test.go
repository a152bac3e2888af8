package ferry_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
)

// These examples need a running ferryd, so they are compiled but not run by go test (they have no
// Output comment). Start one with `ferryd --socket /tmp/ferry.sock`.

func Example() {
	ctx := context.Background()
	c, err := ferry.Dial(ctx, "/tmp/ferry.sock")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	photo, err := os.ReadFile("photo.jpg")
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second) // travels to the daemon as timeout_ms
	defer cancel()
	thumb, err := c.Resize(ctx, ferry.ResizeRequest{Image: photo, Width: 400, Height: 400})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%dx%d %s -> %dx%d %s, %d bytes\n", thumb.SourceWidth, thumb.SourceHeight,
		thumb.SourceFormat, thumb.Width, thumb.Height, thumb.Format, len(thumb.Image))
}

func ExampleDial() {
	// Three connections, and a tighter bound on each connection attempt.
	c, err := ferry.Dial(context.Background(), "/tmp/ferry.sock",
		ferry.WithPoolSize(3), ferry.WithDialTimeout(500*time.Millisecond))
	if errors.Is(err, ferry.ErrUnavailable) {
		log.Fatalf("ferryd is not running: %v", err)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	info := c.ServerInfo()
	fmt.Printf("%s, %d workers, frames up to %d bytes\n", info.Server, info.Workers, info.MaxFrame)
}

func ExampleClient_Resize() {
	c, err := ferry.Dial(context.Background(), "/tmp/ferry.sock")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	photo, _ := os.ReadFile("photo.jpg")

	// A 200x200 square crop from the top of the photo, as WebP.
	res, err := c.Resize(context.Background(), ferry.ResizeRequest{
		Image:  photo,
		Width:  200,
		Height: 200,
		Mode:   ferry.ModeFill,
		Anchor: ferry.AnchorTop,
		Format: ferry.FormatWebP,
	})
	switch {
	case ferry.IsInvalidInput(err):
		log.Printf("refused: %v", err) // bad image, too large, bad arguments
	case ferry.SafeToRetry(err):
		log.Printf("try again later: %v", err) // busy, restarting, unreachable
	case err != nil:
		log.Fatal(err)
	default:
		_ = os.WriteFile("thumb.webp", res.Image, 0o644)
	}
}

func ExampleClient_Resize_outputs() {
	c, err := ferry.Dial(context.Background(), "/tmp/ferry.sock")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	photo, _ := os.ReadFile("photo.jpg")

	// Three sizes from one decode: the daemon decodes the photo once, at the scale the 1600 px
	// output needs, and makes the smaller ones from the larger.
	res, err := c.Resize(context.Background(), ferry.ResizeRequest{
		Image: photo,
		Outputs: []ferry.OutputSpec{
			{Width: 1600, Height: 1600},
			{Width: 800, Height: 800, Format: ferry.FormatWebP},
			{Width: 200, Height: 200, Mode: ferry.ModeFill},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	for i, out := range res.Outputs { // in request order
		name := fmt.Sprintf("thumb-%d-%dx%d.%s", i, out.Width, out.Height, out.Format)
		_ = os.WriteFile(name, out.Image, 0o644)
	}
}

func ExampleClient_Probe() {
	c, err := ferry.Dial(context.Background(), "/tmp/ferry.sock")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	upload, _ := os.ReadFile("upload.jpg")

	// What the upload is, from its header alone: no thumbnail is made and no worker is taken.
	info, err := c.Probe(context.Background(), ferry.ProbeRequest{Image: upload, Width: 1600, Height: 1600})
	if ferry.IsInvalidInput(err) {
		log.Printf("not an image we take: %v", err)
		return
	} else if err != nil {
		log.Fatal(err)
	}
	log.Printf("%s %dx%d upright, %d frames, a 1600 thumbnail reserves %d bytes", info.Format, info.Width, info.Height, info.Frames, info.Memory)

	// A thumbnail no larger than the upload: fit keeps a small photo at its own size.
	res, err := c.Resize(context.Background(), ferry.ResizeRequest{Image: upload, Width: 1600, Height: 1600, NoEnlarge: true})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%dx%d", res.Width, res.Height) // at most info.Width x info.Height
}

func ExampleClient_Checksum() {
	c, err := ferry.Dial(context.Background(), "/tmp/ferry.sock")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	res, err := c.Checksum(context.Background(), ferry.ChecksumRequest{
		Data:       []byte("123456789"),
		Algorithms: []ferry.Algorithm{ferry.CRC32C, ferry.SHA256},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(hex.EncodeToString(res.Digests[ferry.CRC32C])) // e3069283
}

func ExampleClient_Stats() {
	c, err := ferry.Dial(context.Background(), "/tmp/ferry.sock")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	st, err := c.Stats(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("up %v, %d running, %d queued, %d busy replies\n", st.Uptime, st.JobsRunning, st.JobsQueued, st.BusyTotal)
}

// A ServerError carries the daemon's code; sentinels match it by code.
func ExampleServerError() {
	err := error(&ferry.ServerError{Code: ferry.CodeBusy, Message: "queue full: 64 jobs"})
	err = fmt.Errorf("thumbnail %q: %w", "a.jpg", err)

	var se *ferry.ServerError
	if errors.As(err, &se) {
		fmt.Println(se.Code, errors.Is(err, ferry.ErrBusy), ferry.SafeToRetry(err))
	}
	// Output: busy true true
}

// An HTTP upload handler: the upload goes to the daemon as net/http hands it over (a large one
// by descriptor, from the temporary file multipart made), and the thumbnail goes back with its
// Content-Type.
func ExampleResizeRequest_imageReader() {
	c, err := ferry.Dial(context.Background(), "/tmp/ferry.sock")
	if err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("POST /thumbnail", func(w http.ResponseWriter, r *http.Request) {
		f, hdr, err := r.FormFile("photo")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer f.Close()
		res, err := c.Resize(r.Context(), ferry.ResizeRequest{
			ImageReader: f, ImageSize: hdr.Size, Width: 400, Height: 400, Format: ferry.FormatWebP})
		switch {
		case ferry.IsInvalidInput(err):
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", res.Format.MIMEType())
		w.Write(res.Image)
	})
}

// Where ferryd cannot run (Windows), Dial says so with a typed error; the in-process Go path
// (package goproc) serves instead.
func ExampleErrUnsupportedPlatform() {
	c, err := ferry.Dial(context.Background(), "/run/ferry/ferryd.sock")
	if errors.Is(err, ferry.ErrUnsupportedPlatform) {
		fmt.Println("no ferryd on this platform: use goproc.New(), or the router's kill switch")
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
}
