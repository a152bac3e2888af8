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
// 400x400 plus a JPEG q80 encode, bytes in memory to bytes in memory like the other two paths,
// then the process's CPU milliseconds over the call (all its threads).
// A second word on the line names a file to keep the output in; one ending in .png gets a
// lossless PNG instead (the quality check's reference, free of encoder differences), one ending
// in .avif an AVIF written by heifsave at the quality and effort given as the script's
// arguments (the HEIC and AVIF section, formats.go). A failed call answers "ERR message".
// A long-lived process, so that its calls alternate with the other paths' call by call.
const vipsScript = `
import sys, time, pyvips
print("%d.%d.%d" % (pyvips.version(0), pyvips.version(1), pyvips.version(2)), flush=True)
avif = ".avif[Q=%s,effort=%s,compression=av1,strip]" % tuple((sys.argv[1:] + ["60", "1"])[:2])
cache = {}
for line in sys.stdin:
    path, _, keep = line.strip().partition(" ")
    try:
        data = cache.get(path) or cache.setdefault(path, open(path, "rb").read())
        fmt = ".png" if keep.endswith(".png") else avif if keep.endswith(".avif") else ".jpg[Q=80]"
        t, c = time.perf_counter(), time.process_time()
        out = pyvips.Image.thumbnail_buffer(data, 400, height=400).write_to_buffer(fmt)
        took, cpu = (time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000
        if keep:
            open(keep, "wb").write(out)
        print(took, cpu, flush=True)
    except Exception as e:
        print("ERR", " ".join(str(e).split()), flush=True)
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
func startVips(photos []photo, args ...string) *vipsWorker {
	if exec.Command("python3", "-c", "import pyvips").Run() != nil {
		return nil
	}
	cmd := exec.Command("python3", append([]string{"-c", vipsScript}, args...)...)
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
	wall, _, err := w.timed(line)
	return wall, err
}

// timed sends one request line and reads its answer: the call's wall time and the worker
// process's CPU time over it.
func (w *vipsWorker) timed(line string) (wall, cpu time.Duration, err error) {
	if _, err := fmt.Fprintln(w.in, line); err != nil {
		return 0, 0, err
	}
	if !w.out.Scan() {
		return 0, 0, fmt.Errorf("libvips worker stopped: %v", w.out.Err())
	}
	answer := strings.TrimSpace(w.out.Text())
	if msg, failed := strings.CutPrefix(answer, "ERR"); failed {
		return 0, 0, fmt.Errorf("libvips: %s", strings.TrimSpace(msg))
	}
	fields := strings.Fields(answer)
	if len(fields) == 0 {
		return 0, 0, fmt.Errorf("libvips worker: empty answer")
	}
	msec, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return 0, 0, err
	}
	if len(fields) > 1 {
		c, _ := strconv.ParseFloat(fields[1], 64)
		cpu = time.Duration(c * 1e6)
	}
	return time.Duration(msec * 1e6), cpu, nil
}

// encode makes one thumbnail of the named photo written as ext (".jpg", ".png", ".avif"), timed,
// and returns its bytes with the call's wall and CPU time.
func (w *vipsWorker) encode(name, ext string) (out []byte, wall, cpu time.Duration, err error) {
	keep := filepath.Join(w.dir, name+".thumb"+ext)
	if wall, cpu, err = w.timed(filepath.Join(w.dir, name) + " " + keep); err != nil {
		return nil, 0, 0, err
	}
	out, err = os.ReadFile(keep)
	return out, wall, cpu, err
}

func (w *vipsWorker) close() {
	w.in.Close()
	_ = w.cmd.Wait()
	os.RemoveAll(w.dir)
}
