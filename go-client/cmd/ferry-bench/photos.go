package main

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// photo is one corpus file, read into memory: the benches measure bytes in, bytes out.
type photo struct {
	Name   string `json:"name"`
	Bytes  int    `json:"bytes"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	// ICC: the file embeds a colour profile, which ferryd converts to sRGB and libvips'
	// thumbnail passes through, so their PSNR against each other measures that, not resizing.
	ICC bool `json:"icc"`
	// Detail: a picture of the painted detail corpus (-detail), not a photo of the shared
	// corpus. Only the one-at-a-time section (speed and quality) runs it.
	Detail bool `json:"detail,omitempty"`
	data   []byte
}

// hasICC finds a JPEG APP2 ICC_PROFILE segment or a PNG iCCP chunk in the file's head.
func hasICC(data []byte) bool {
	head := data[:min(len(data), 1<<20)]
	return bytes.Contains(head, []byte("ICC_PROFILE\x00")) || bytes.Contains(head, []byte("iCCP"))
}

func (p photo) megapixels() float64 { return float64(p.Width*p.Height) / 1e6 }

// loadPhotos reads every *.jpg, *.jpeg and *.png of dir (the set `cargo bench --bench corpus`
// reads too, so the kernel ceiling and the socket figures cover the same photos), sorted by name.
func loadPhotos(dir string) ([]photo, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var photos []photo
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".jpg", ".jpeg", ".png":
		default:
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		photos = append(photos, photo{Name: e.Name(), Bytes: len(data), Width: cfg.Width, Height: cfg.Height, ICC: hasICC(data), data: data})
	}
	if len(photos) == 0 {
		return nil, fmt.Errorf("no *.jpg or *.png photos in %s", dir)
	}
	slices.SortFunc(photos, func(a, b photo) int { return strings.Compare(a.Name, b.Name) })
	return photos, nil
}

// largest is the photo with the most pixels.
func largest(photos []photo) photo {
	return slices.MaxFunc(photos, func(a, b photo) int { return a.Width*a.Height - b.Width*b.Height })
}
