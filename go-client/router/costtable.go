package router

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"os"
	"strconv"

	ferry "github.com/ferryd/ferry/go-client"
)

// CostTable is what RouteAuto routes by: for each checksum algorithm and each resize input
// format, the size from which the daemon (the socket path) is faster than the Go path, as a
// bench on some machine measured it. `make bench` writes one for the machine it ran on
// (crossover.json in its output directory, from the checksum cells and thumbnail rows); the
// Router starts with DefaultCostTable. Its JSON form:
//
//	{
//	  "version": 1,
//	  "source": "where the figures come from",
//	  "checksum_rust_from_bytes": {"crc32c": "never", "blake3": 1625213},
//	  "checksum_file_rust_from_bytes": {"crc32c": "never", "blake3": 262144},
//	  "resize_rust_from_pixels": {"jpeg": 0, "png": 0}
//	}
//
// A checksum goes to the daemon when its payload has at least that many bytes; a checksum of a
// file (ChecksumRequest.File) by checksum_file_rust_from_bytes instead, since a descriptor
// crosses the socket in place of the bytes and the Go path must read the file too (a table
// without that map routes files by the bytes map); a resize when its
// input has at least that many pixels (width x height, from the image header); "never" keeps
// every size on Go, 0 sends every size to the daemon. A checksum of several algorithms goes to
// the daemon when any one of them would: the payload crosses the socket once for all of them,
// and the socket's cost is what keeps small payloads on Go. An algorithm or input format the
// table does not name goes to the daemon, like every request under RouteRust.
type CostTable struct {
	// Version is the format's version, 1.
	Version int `json:"version"`
	// Source says where the figures come from (the bench run, machine, date), for people.
	Source        string                        `json:"source"`
	ChecksumBytes map[ferry.Algorithm]Threshold `json:"checksum_rust_from_bytes"`
	// ChecksumFileBytes is ChecksumBytes for files passed by descriptor (optional).
	ChecksumFileBytes map[ferry.Algorithm]Threshold `json:"checksum_file_rust_from_bytes,omitempty"`
	ResizePixels      map[ferry.Format]Threshold    `json:"resize_rust_from_pixels"`
}

// Threshold is the size from which the daemon is faster; Never when the Go path is faster at
// every size measured.
type Threshold int64

// Never is the Threshold of an algorithm or format that the Go path always serves faster.
const Never Threshold = -1

// MarshalJSON writes Never as "never" and any other Threshold as its number.
func (t Threshold) MarshalJSON() ([]byte, error) {
	if t == Never {
		return []byte(`"never"`), nil
	}
	return strconv.AppendInt(nil, int64(t), 10), nil
}

// UnmarshalJSON reads "never" or a whole number >= 0.
func (t *Threshold) UnmarshalJSON(b []byte) error {
	if string(b) == `"never"` {
		*t = Never
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("threshold %s: want a whole number >= 0 or \"never\"", b)
	}
	*t = Threshold(n)
	return nil
}

// String is "never" or the number.
func (t Threshold) String() string {
	if t == Never {
		return "never"
	}
	return strconv.FormatInt(int64(t), 10)
}

// reaches says whether a request of size n is at or past the threshold.
func (t Threshold) reaches(n int64) bool { return t != Never && n >= int64(t) }

// EnvCostTable names the environment variable giving a cost table file for New to load when
// WithCostTable and WithCostTableFile are not used.
const EnvCostTable = "FERRY_COST_TABLE"

// The shipped table is default_cost_table.json, generated from the last full bench report (see
// DefaultCostTable), and copied into default_cost_table.go as a string (the test
// TestDefaultCostTableMatchesItsFile fails when the two drift): a string constant rather than
// go:embed keeps package embed out of a service's build (the dependency count of package router
// is watched).
//
//go:generate go run ../cmd/ferry-bench -table-from ../../benches/report/results.json -table-out default_cost_table.json
//go:generate go test -run TestDefaultCostTableMatchesItsFile -args -write-cost-table

// DefaultCostTable returns the table shipped with this package: generated from the checksum
// cells and thumbnail rows of the last full `make bench` report committed to the repository
// (its Source names the run). Each call returns a fresh copy. It suits a machine like the one
// that ran that bench; install your own machine's table with WithCostTable or WithCostTableFile.
func DefaultCostTable() *CostTable {
	t, err := ParseCostTable([]byte(defaultCostTableJSON))
	if err != nil {
		panic("ferry router: the embedded default cost table is invalid: " + err.Error())
	}
	return t
}

// ParseCostTable reads a cost table from its JSON form (see CostTable). Unknown fields,
// algorithms and formats are errors, so a typo cannot silently route by default.
func ParseCostTable(data []byte) (*CostTable, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var t CostTable
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("ferry: cost table: %w", err)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

// LoadCostTable reads a cost table file.
func LoadCostTable(path string) (*CostTable, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ferry: cost table: %w", err)
	}
	t, err := ParseCostTable(b)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return t, nil
}

// Validate checks the version, the names and the thresholds.
func (t *CostTable) Validate() error {
	if t.Version != 1 {
		return fmt.Errorf("ferry: cost table: version %d, want 1", t.Version)
	}
	for _, m := range []map[ferry.Algorithm]Threshold{t.ChecksumBytes, t.ChecksumFileBytes} {
		for a, th := range m {
			switch a {
			case ferry.CRC32C, ferry.XXH3_64, ferry.SHA256, ferry.BLAKE3:
			default:
				return fmt.Errorf("ferry: cost table: unknown checksum algorithm %q", a)
			}
			if th < Never {
				return fmt.Errorf("ferry: cost table: %s threshold %d is negative", a, th)
			}
		}
	}
	for f, th := range t.ResizePixels {
		switch f {
		case ferry.FormatJPEG, ferry.FormatPNG, ferry.FormatWebP, ferry.FormatGIF:
		default:
			return fmt.Errorf("ferry: cost table: unknown input format %q", f)
		}
		if th < Never {
			return fmt.Errorf("ferry: cost table: %s threshold %d is negative", f, th)
		}
	}
	return nil
}

// resizeToRust says whether the daemon serves a resize of img faster. The header is read only
// when the threshold is neither 0 nor Never; an input whose format or size cannot be read goes
// to the daemon, which refuses it with a typed error.
func (t *CostTable) resizeToRust(img []byte) bool {
	f := inputFormat(img)
	th, ok := t.ResizePixels[f]
	switch {
	case f == "" || !ok || th == 0:
		return true
	case th == Never:
		return false
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(img))
	if err != nil {
		return true
	}
	return th.reaches(int64(math.Min(float64(cfg.Width)*float64(cfg.Height), math.MaxInt64)))
}

// inputFormat tells an image's format from its magic number ("" when it is none of the four).
func inputFormat(b []byte) ferry.Format {
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return ferry.FormatJPEG
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return ferry.FormatPNG
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return ferry.FormatGIF
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return ferry.FormatWebP
	}
	return ""
}
