package router

import (
	"bytes"
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
	"github.com/ferryd/ferry/go-client/internal/testdaemon"
	"github.com/ferryd/ferry/go-client/internal/testimages"
)

// RouteAuto against the real ferryd: the shipped table, a custom one, the fallback, bad tables.

var (
	smallCRC   = ferry.ChecksumRequest{Data: testimages.PaintedBytes(1 << 10), Algorithms: []ferry.Algorithm{ferry.CRC32C}}
	largeBLAKE = ferry.ChecksumRequest{Data: testimages.PaintedBytes(8 << 20), Algorithms: []ferry.Algorithm{ferry.BLAKE3}}
)

// autoRouter is a Router in RouteAuto in front of the real daemon d.
func autoRouter(t *testing.T, d *testdaemon.Daemon, opts ...Option) *Router {
	t.Helper()
	r, _ := faultRouter(t, d, BreakerConfig{}, append([]Option{WithPolicy(Policy{Mode: RouteAuto})}, opts...)...)
	return r
}

// checksumServed runs req through r, checks the digest against the Go path's, and returns who
// served it.
func checksumServed(t *testing.T, r *Router, req ferry.ChecksumRequest) ferry.Served {
	t.Helper()
	res, err := r.Checksum(bg(t), req)
	if err != nil {
		t.Fatal(err)
	}
	want, err := goproc.New().Checksum(bg(t), req)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range req.Algorithms {
		if !bytes.Equal(res.Digests[a], want.Digests[a]) {
			t.Fatalf("%s of %d bytes: %x, want %x", a, len(req.Data), res.Digests[a], want.Digests[a])
		}
	}
	return res.Served
}

// resizeServed resizes img through r and returns who served it.
func resizeServed(t *testing.T, r *Router, img []byte) ferry.Served {
	t.Helper()
	res, err := r.Resize(bg(t), ferry.ResizeRequest{Image: img, Width: 64})
	if err != nil {
		t.Fatal(err)
	}
	if res.Width != 64 {
		t.Fatalf("resized to %dx%d, want width 64", res.Width, res.Height)
	}
	return res.Served
}

var (
	goCost   = ferry.Served{Path: ferry.PathGo, Reason: ReasonCost}
	rustCost = ferry.Served{Path: ferry.PathRust, Reason: ReasonCost}
)

func TestAutoRoutesByTheShippedTable(t *testing.T) {
	def := DefaultCostTable()
	if !strings.Contains(def.Source, "results.json") {
		t.Errorf("the default table does not name its source: %q", def.Source)
	}
	// What every bench report so far has shown: the socket path never wins a CRC32C of bytes in
	// memory, and wins every thumbnail. Where BLAKE3 crosses over (for bytes, for files) moves
	// from report to report; the router must follow whatever the shipped table says.
	if th := def.ChecksumBytes[ferry.CRC32C]; th != Never {
		t.Fatalf("default crc32c threshold %d, want never", th)
	}
	expect := func(th Threshold, n int) ferry.Served {
		if th != Never && int64(th) <= int64(n) {
			return rustCost
		}
		return goCost
	}
	fileTable := def.ChecksumFileBytes
	if len(fileTable) == 0 {
		fileTable = def.ChecksumBytes
	}
	f := testimages.OpenTemp(t, largeBLAKE.Data)

	d := testdaemon.Start(t)
	r := autoRouter(t, d)
	counts := map[ferry.Path]float64{}
	check := func(what string, req ferry.ChecksumRequest, want ferry.Served) {
		t.Helper()
		if s := checksumServed(t, r, req); s != want {
			t.Errorf("%s served %v, want %v (shipped table)", what, s, want)
		}
		counts[want.Path]++
	}
	check("1 KiB crc32c", smallCRC, goCost)
	check("8 MiB blake3", largeBLAKE, expect(def.ChecksumBytes[ferry.BLAKE3], len(largeBLAKE.Data)))
	check("8 MiB blake3 file", ferry.ChecksumRequest{File: f, Algorithms: largeBLAKE.Algorithms},
		expect(fileTable[ferry.BLAKE3], len(largeBLAKE.Data)))
	for _, p := range testimages.Photos(t) {
		if s := resizeServed(t, r, p.Data); s != rustCost {
			t.Errorf("%s served %v, want rust/cost", p.Name, s)
		}
	}
	m := countsOf(t, r)
	for path, want := range counts {
		if got := m.requests("checksum", string(path), "cost", "ok"); got != want {
			t.Errorf("checksums counted %s/cost %v times, want %v", path, got, want)
		}
	}
	if got := m.policyMode("auto"); got != 1 {
		t.Errorf("policy mode gauge auto = %v", got)
	}
}

// Several algorithms in one request go to the daemon as soon as one of them is worth the
// socket: the payload crosses it once for all of them.
func TestAutoSendsSeveralAlgorithmsWhereAnyOneIsWorthIt(t *testing.T) {
	table := &CostTable{Version: 1, Source: "test",
		ChecksumBytes: map[ferry.Algorithm]Threshold{ferry.CRC32C: Never, ferry.BLAKE3: 1 << 20},
		ResizePixels:  map[ferry.Format]Threshold{},
	}
	d := testdaemon.Start(t)
	r := autoRouter(t, d, WithCostTable(table))
	both := ferry.ChecksumRequest{Data: largeBLAKE.Data, Algorithms: []ferry.Algorithm{ferry.CRC32C, ferry.BLAKE3}}
	if s := checksumServed(t, r, both); s != rustCost {
		t.Errorf("8 MiB crc32c+blake3 served %v, want rust/cost", s)
	}
	both.Data = smallCRC.Data
	if s := checksumServed(t, r, both); s != goCost {
		t.Errorf("1 KiB crc32c+blake3 served %v, want go/cost", s)
	}
}

func TestAutoFollowsACustomTable(t *testing.T) {
	photos := testimages.Photos(t)
	var jpeg []byte
	for _, p := range photos {
		if inputFormat(p.Data) == ferry.FormatJPEG {
			jpeg = p.Data
		}
	}
	if jpeg == nil {
		t.Fatal("no JPEG among the sample photos")
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(jpeg))
	if err != nil {
		t.Fatal(err)
	}
	pixels := Threshold(cfg.Width * cfg.Height)
	flipped := &CostTable{Version: 1, Source: "test",
		ChecksumBytes: map[ferry.Algorithm]Threshold{ferry.CRC32C: 0, ferry.BLAKE3: Never},
		ResizePixels:  map[ferry.Format]Threshold{ferry.FormatJPEG: pixels + 1, ferry.FormatPNG: Never},
	}
	d := testdaemon.Start(t)
	r := autoRouter(t, d, WithCostTable(flipped))
	if s := checksumServed(t, r, smallCRC); s != rustCost {
		t.Errorf("1 KiB crc32c served %v, want rust/cost", s)
	}
	if s := checksumServed(t, r, largeBLAKE); s != goCost {
		t.Errorf("8 MiB blake3 served %v, want go/cost", s)
	}
	for _, p := range photos {
		if s := resizeServed(t, r, p.Data); s != goCost {
			t.Errorf("%s served %v, want go/cost (one pixel short of the JPEG threshold; PNG never)", p.Name, s)
		}
	}
	// The same table from a file, with the JPEG threshold at exactly the photo's pixel count.
	flipped.ResizePixels[ferry.FormatJPEG] = pixels
	file := filepath.Join(t.TempDir(), "crossover.json")
	writeTable(t, file, flipped)
	r2 := autoRouter(t, d, WithCostTableFile(file))
	if s := resizeServed(t, r2, jpeg); s != rustCost {
		t.Errorf("a JPEG at the threshold served %v, want rust/cost", s)
	}
	if s := checksumServed(t, r2, largeBLAKE); s != goCost {
		t.Errorf("8 MiB blake3 from the file's table served %v, want go/cost", s)
	}
	// FERRY_COST_TABLE and FERRY_ROUTE=auto, as ops would set them.
	t.Setenv(EnvCostTable, file)
	t.Setenv(EnvRoute, "auto")
	r3, _ := faultRouter(t, d, BreakerConfig{})
	if r3.Policy().Mode != RouteAuto || r3.CostTable().ChecksumBytes[ferry.CRC32C] != 0 {
		t.Fatalf("from the environment: policy %v, table %+v", r3.Policy(), r3.CostTable())
	}
	if s := checksumServed(t, r3, smallCRC); s != rustCost {
		t.Errorf("1 KiB crc32c with the environment's table served %v, want rust/cost", s)
	}
}

func TestAutoFallsBackToGoWhenTheDaemonIsDown(t *testing.T) {
	table := &CostTable{Version: 1, Source: "test",
		ChecksumBytes: map[ferry.Algorithm]Threshold{ferry.CRC32C: Never, ferry.BLAKE3: 1 << 20},
		ResizePixels:  map[ferry.Format]Threshold{},
	}
	d := testdaemon.Start(t)
	r := autoRouter(t, d, WithCostTable(table))
	d.Kill()
	s := checksumServed(t, r, largeBLAKE)
	if s.Path != ferry.PathGo || (s.Reason != ReasonFallback && s.Reason != ReasonBreakerOpen) {
		t.Errorf("8 MiB blake3 with the daemon down served %v, want go/fallback", s)
	}
	if s := checksumServed(t, r, smallCRC); s != goCost {
		t.Errorf("1 KiB crc32c with the daemon down served %v, want go/cost (the daemon was not needed)", s)
	}
}

func writeTable(t *testing.T, path string, tbl *CostTable) {
	t.Helper()
	raw, err := json.Marshal(tbl)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAnInvalidCostTableFailsNew(t *testing.T) {
	dir := t.TempDir()
	rust := newFakeRust()
	for name, tc := range map[string]struct{ body, want string }{
		"not json":          {`{"version": 1,`, "cost table"},
		"wrong version":     {`{"version": 2}`, "version 2"},
		"unknown algorithm": {`{"version": 1, "checksum_rust_from_bytes": {"md5": 10}}`, `"md5"`},
		"unknown format":    {`{"version": 1, "resize_rust_from_pixels": {"bmp": 0}}`, `"bmp"`},
		"negative":          {`{"version": 1, "checksum_rust_from_bytes": {"crc32c": -5}}`, "-5"},
		"a word":            {`{"version": 1, "checksum_rust_from_bytes": {"crc32c": "always"}}`, "always"},
		"null":              {`{"version": 1, "checksum_rust_from_bytes": {"crc32c": null}}`, "null"},
		"unknown field":     {`{"version": 1, "checksums": {}}`, "checksums"},
	} {
		file := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
		if err := os.WriteFile(file, []byte(tc.body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := New(rust, nil, WithCostTableFile(file))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), file) {
			t.Errorf("%s: New said %v, want an error naming %s and %q", name, err, file, tc.want)
		}
	}
	if _, err := New(rust, nil, WithCostTableFile(filepath.Join(dir, "absent.json"))); err == nil {
		t.Error("a missing cost table file was accepted")
	}
	t.Setenv(EnvCostTable, filepath.Join(dir, "not_json.json"))
	if _, err := New(rust, nil); err == nil {
		t.Error("an invalid FERRY_COST_TABLE was accepted")
	}
	bad := &CostTable{Version: 1, ChecksumBytes: map[ferry.Algorithm]Threshold{"md5": 0}}
	if _, err := New(rust, nil, WithCostTable(bad)); err == nil {
		t.Error("an invalid WithCostTable was accepted")
	}
}

// A file passed by descriptor routes by the table's file map, which a bench measures apart (the
// socket carries no bytes, the Go path reads the file); a table without one routes files by the
// bytes map.
func TestAutoRoutesFilesByTheFileMap(t *testing.T) {
	f := testimages.OpenTemp(t, largeBLAKE.Data)
	byFile := ferry.ChecksumRequest{File: f, Algorithms: largeBLAKE.Algorithms}
	table := &CostTable{Version: 1, Source: "test",
		ChecksumBytes:     map[ferry.Algorithm]Threshold{ferry.BLAKE3: Never},
		ChecksumFileBytes: map[ferry.Algorithm]Threshold{ferry.BLAKE3: 1 << 20},
		ResizePixels:      map[ferry.Format]Threshold{},
	}
	d := testdaemon.Start(t)
	r := autoRouter(t, d, WithCostTable(table))
	if s := checksumServed(t, r, largeBLAKE); s != goCost {
		t.Errorf("8 MiB blake3 in memory served %v, want go/cost", s)
	}
	if s := checksumServed(t, r, byFile); s != rustCost {
		t.Errorf("8 MiB blake3 file served %v, want rust/cost (file map: from 1 MiB)", s)
	}
	table.ChecksumFileBytes = nil
	r2 := autoRouter(t, d, WithCostTable(table))
	if s := checksumServed(t, r2, byFile); s != goCost {
		t.Errorf("8 MiB blake3 file without a file map served %v, want go/cost (the bytes map)", s)
	}
}
