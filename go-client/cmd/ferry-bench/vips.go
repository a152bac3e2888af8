package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// vipsResults are libvips' thumbnails of the same photos, in process (pyvips), one thread
// (VIPS_CONCURRENCY=1): an outside anchor for the socket path's figures.
type vipsResults struct {
	Version string          `json:"version"`
	Rows    map[string]dist `json:"rows"`
	SumMS   float64         `json:"sum_ms"` // sum of per-photo medians
}

// vipsScript serves timing requests on stdin, one photo path per line, and answers each with the
// milliseconds of one pyvips.Image.thumbnail_buffer (shrink-on-load, Lanczos3 by default) to
// 400x400 plus a JPEG q80 encode, bytes in memory to bytes in memory like the other two paths.
// A second word on the line names a file to keep the output in; one ending in .png gets a
// lossless PNG instead (the quality check's reference, free of encoder differences).
// A long-lived process, so that its calls alternate with the other paths' call by call.
const vipsScript = `
import sys, time, pyvips
print("%d.%d.%d" % (pyvips.version(0), pyvips.version(1), pyvips.version(2)), flush=True)
cache = {}
for line in sys.stdin:
    path, _, keep = line.strip().partition(" ")
    data = cache.get(path) or cache.setdefault(path, open(path, "rb").read())
    t = time.perf_counter()
    fmt = ".png" if keep.endswith(".png") else ".jpg[Q=80]"
    out = pyvips.Image.thumbnail_buffer(data, 400, height=400).write_to_buffer(fmt)
    took = (time.perf_counter() - t) * 1000
    if keep:
        open(keep, "wb").write(out)
    print(took, flush=True)
`

// vipsWorker is the python process and the photos it reads.
type vipsWorker struct {
	version string
	dir     string
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *bufio.Scanner
}

// startVips returns nil when python3 cannot import pyvips (`pip install "pyvips[binary]"`).
func startVips(photos []photo) *vipsWorker {
	if exec.Command("python3", "-c", "import pyvips").Run() != nil {
		return nil
	}
	cmd := exec.Command("python3", "-c", vipsScript)
	cmd.Env = append(os.Environ(), "VIPS_CONCURRENCY=1")
	return startWorker(cmd, photos)
}

// startWorker starts a timing process that speaks vipsScript's line protocol (pyvips, or the
// govips binary's -serve mode) over copies of the photos in a temporary directory; nil when it
// does not start or does not print its version line.
func startWorker(cmd *exec.Cmd, photos []photo) *vipsWorker {
	dir, err := os.MkdirTemp("", "fv")
	if err != nil {
		return nil
	}
	for _, ph := range photos {
		if os.WriteFile(filepath.Join(dir, ph.Name), ph.data, 0o644) != nil {
			os.RemoveAll(dir)
			return nil
		}
	}
	w := &vipsWorker{dir: dir, cmd: cmd}
	w.cmd.Stderr = os.Stderr
	in, err1 := w.cmd.StdinPipe()
	out, err2 := w.cmd.StdoutPipe()
	if err1 != nil || err2 != nil || w.cmd.Start() != nil {
		os.RemoveAll(dir)
		return nil
	}
	w.in, w.out = in, bufio.NewScanner(out)
	if !w.out.Scan() {
		w.close()
		return nil
	}
	w.version = w.out.Text()
	return w
}

// thumb times one thumbnail of the named photo.
func (w *vipsWorker) thumb(name string) (time.Duration, error) {
	return w.request(filepath.Join(w.dir, name))
}

// output makes one thumbnail of the named photo and returns its bytes, for the quality check.
func (w *vipsWorker) output(name string) ([]byte, error) {
	return w.outputAs(name, ".jpg")
}

// outputAs is output written as ext: ".jpg" (q80, as timed) or ".png" (lossless).
func (w *vipsWorker) outputAs(name, ext string) ([]byte, error) {
	keep := filepath.Join(w.dir, name+".thumb"+ext)
	if _, err := w.request(filepath.Join(w.dir, name) + " " + keep); err != nil {
		return nil, err
	}
	return os.ReadFile(keep)
}

func (w *vipsWorker) request(line string) (time.Duration, error) {
	if _, err := fmt.Fprintln(w.in, line); err != nil {
		return 0, err
	}
	if !w.out.Scan() {
		return 0, fmt.Errorf("pyvips worker stopped: %v", w.out.Err())
	}
	msec, err := strconv.ParseFloat(strings.TrimSpace(w.out.Text()), 64)
	return time.Duration(msec * 1e6), err
}

func (w *vipsWorker) close() {
	w.in.Close()
	_ = w.cmd.Wait()
	os.RemoveAll(w.dir)
}
