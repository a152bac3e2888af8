package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// vipsResults are libvips' thumbnails of the same photos, in process (pyvips), one thread
// (VIPS_CONCURRENCY=1): an outside anchor for the socket path's figures.
type vipsResults struct {
	Version string          `json:"version"`
	Rows    map[string]dist `json:"rows"`
	SumMS   float64         `json:"sum_ms"` // sum of per-photo medians
}

// vipsScript times pyvips.Image.thumbnail_buffer (shrink-on-load, Lanczos3 by default) to 400x400
// and a JPEG q80 encode, bytes in memory to bytes in memory, like the other two paths.
const vipsScript = `
import json, sys, time, pyvips
runs = int(sys.argv[1]); out = {}
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    pyvips.Image.thumbnail_buffer(data, 400, height=400).write_to_buffer(".jpg[Q=80]")
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        pyvips.Image.thumbnail_buffer(data, 400, height=400).write_to_buffer(".jpg[Q=80]")
        times.append((time.perf_counter() - t) * 1000)
    out[path] = times
print(json.dumps({"version": pyvips.version(0) and "%d.%d.%d" % (pyvips.version(0), pyvips.version(1), pyvips.version(2)), "times": out}))
`

// benchVips returns nil when python3 cannot import pyvips (`pip install "pyvips[binary]"`).
func benchVips(photos []photo, p plan) *vipsResults {
	if exec.Command("python3", "-c", "import pyvips").Run() != nil {
		return nil
	}
	dir, err := os.MkdirTemp("", "fv")
	if err != nil {
		return nil
	}
	defer os.RemoveAll(dir)
	args := []string{"-c", vipsScript, itoa(p.rustRuns)}
	for _, ph := range photos {
		path := filepath.Join(dir, ph.Name)
		if os.WriteFile(path, ph.data, 0o644) != nil {
			return nil
		}
		args = append(args, path)
	}
	cmd := exec.Command("python3", args...)
	cmd.Env = append(os.Environ(), "VIPS_CONCURRENCY=1")
	raw, err := cmd.Output()
	if err != nil {
		return nil
	}
	var parsed struct {
		Version string               `json:"version"`
		Times   map[string][]float64 `json:"times"`
	}
	if json.Unmarshal(raw, &parsed) != nil {
		return nil
	}
	res := &vipsResults{Version: parsed.Version, Rows: map[string]dist{}}
	for path, times := range parsed.Times {
		d := make([]time.Duration, len(times))
		for i, t := range times {
			d[i] = time.Duration(t * 1e6)
		}
		s := summarise(d)
		res.Rows[filepath.Base(path)] = s
		res.SumMS += s.P50
	}
	return res
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
