// Package testdaemon starts the real ferryd for Go tests: it finds the binary, runs it on a short
// temporary socket path, waits until it answers a ping, and gives the test the signals it needs to
// inject faults (kill, stop, continue, terminate, restart). Everything is undone by t.Cleanup.
//
// The binary is FERRYD_BIN if set, else target/release/ferryd, else target/debug/ferryd at the
// repository root (the go-client module's parent). With FERRYD_BUILD=1 a missing binary is built
// with `cargo build --release` first. When no binary is found the test fails if CI is set and is
// skipped, with a message naming FERRYD_BIN, otherwise: never silently. Outside Linux, where ferryd
// does not run, the package still compiles (so `go vet ./...` passes on a Mac) and every test
// that starts the daemon is skipped with a message saying why.
package testdaemon

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferryd/ferry/go-client/internal/childproc"
	"github.com/ferryd/ferry/go-client/internal/wire"
)

// ReadyTimeout bounds how long Start and Restart wait for the daemon to answer its first ping.
const ReadyTimeout = 15 * time.Second

// StopTimeout bounds how long Terminate and cleanup wait for the daemon to exit after SIGTERM
// before they kill it.
const StopTimeout = 10 * time.Second

// Daemon is one ferryd process (or its successive incarnations, after Restart) owned by a test.
type Daemon struct {
	t     testing.TB
	bin   string
	dir   string
	path  string
	flags []string
	log   string

	mu   sync.Mutex
	proc *process
}

// process is one run of the binary.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd.Wait has returned
	err    error         // cmd.Wait's result, valid after exited is closed
}

// Start runs ferryd with the given extra flags (after --socket) and waits until it answers a ping.
func Start(t testing.TB, flags ...string) *Daemon {
	t.Helper()
	bin := Binary(t)
	// A short directory: Unix socket paths must stay under 108 bytes, t.TempDir's may not.
	dir, err := os.MkdirTemp("", "fy")
	if err != nil {
		t.Fatalf("testdaemon: temp dir: %v", err)
	}
	d := &Daemon{
		t:     t,
		bin:   bin,
		dir:   dir,
		path:  filepath.Join(dir, "d.sock"),
		flags: append([]string(nil), flags...),
		log:   filepath.Join(dir, "ferryd.log"),
	}
	t.Cleanup(d.cleanup)
	if err := d.start(); err != nil {
		t.Fatalf("testdaemon: %v", err)
	}
	return d
}

// Path is the daemon's socket path.
func (d *Daemon) Path() string { return d.path }

// Pid is the process id of the current run, or 0 when it is not running.
func (d *Daemon) Pid() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.proc == nil {
		return 0
	}
	return d.proc.cmd.Process.Pid
}

// Log returns everything the daemon wrote to stdout and stderr, over all its runs.
func (d *Daemon) Log() string {
	b, _ := os.ReadFile(d.log)
	return string(b)
}

// Kill sends SIGKILL and waits for the process to be gone. The socket file stays behind, as it
// would after a crash.
func (d *Daemon) Kill() {
	d.t.Helper()
	p := d.current()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(childproc.Kill)
	<-p.exited
}

// Stop sends SIGSTOP and returns once every thread of the daemon has stopped (signals are
// delivered asynchronously): the daemon is frozen, its socket stays open and accepts connections
// that no one serves. Undo with Cont; cleanup continues a stopped daemon before terminating it.
func (d *Daemon) Stop() {
	d.t.Helper()
	d.signal(childproc.Stop)
	if err := waitThreadsStopped(d.Pid(), 5*time.Second); err != nil {
		d.t.Fatalf("testdaemon: SIGSTOP: %v", err)
	}
}

// waitThreadsStopped polls /proc until every thread of pid is in state T (stopped).
func waitThreadsStopped(pid int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		running, err := runningThreads(pid)
		if err == nil && running == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d threads of pid %d still running after %v (%v)", running, pid, limit, err)
		}
		time.Sleep(time.Millisecond)
	}
}

func runningThreads(pid int) (int, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return -1, fmt.Errorf("no threads found in /proc: %v", err)
	}
	running := 0
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited
		}
		// The state follows the command name, which is in parentheses and may contain spaces.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) {
			return -1, fmt.Errorf("unexpected %s: %q", f, b)
		}
		if st := b[i+2]; st != 'T' && st != 't' {
			running++
		}
	}
	return running, nil
}

// Cont sends SIGCONT to a daemon frozen by Stop.
func (d *Daemon) Cont() { d.signal(childproc.Continue) }

// Terminate sends SIGTERM (the graceful shutdown) and waits for the exit. It returns nil when the
// daemon exited with status 0, else the exit error. A daemon still running after StopTimeout is
// killed and reported as an error.
func (d *Daemon) Terminate() error {
	p := d.current()
	if p == nil {
		return errors.New("testdaemon: not running")
	}
	_ = p.cmd.Process.Signal(childproc.Continue) // a stopped process handles SIGTERM only once continued
	_ = p.cmd.Process.Signal(childproc.Terminate)
	select {
	case <-p.exited:
		return p.err
	case <-time.After(StopTimeout):
		_ = p.cmd.Process.Signal(childproc.Kill)
		<-p.exited
		return fmt.Errorf("testdaemon: ferryd ignored SIGTERM for %v and was killed", StopTimeout)
	}
}

// Restart terminates the daemon if it is running, starts it again on the same socket path with the
// same flags, and waits until it answers a ping.
func (d *Daemon) Restart() {
	d.t.Helper()
	if d.Running() {
		if err := d.Terminate(); err != nil {
			d.t.Errorf("testdaemon: stopping for restart: %v", err)
		}
	}
	if err := d.start(); err != nil {
		d.t.Fatalf("testdaemon: restart: %v", err)
	}
}

// Running reports whether the current run has not exited.
func (d *Daemon) Running() bool {
	p := d.current()
	if p == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Exited is closed when the current run exits.
func (d *Daemon) Exited() <-chan struct{} {
	p := d.current()
	if p == nil {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return p.exited
}

func (d *Daemon) current() *process {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.proc
}

func (d *Daemon) signal(sig syscall.Signal) {
	d.t.Helper()
	p := d.current()
	if p == nil {
		d.t.Fatalf("testdaemon: %v: daemon not running", sig)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		d.t.Fatalf("testdaemon: %v: %v", sig, err)
	}
}

func (d *Daemon) start() error {
	logFile, err := os.OpenFile(d.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close() // the child keeps its own descriptor
	args := append([]string{"--socket", d.path}, d.flags...)
	cmd := exec.Command(d.bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// If the test binary dies, the daemon goes with it instead of lingering (on Linux).
	childproc.DieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", d.bin, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	d.mu.Lock()
	d.proc = p
	d.mu.Unlock()

	deadline := time.Now().Add(ReadyTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("ferryd %s exited before it was ready (%v); log:\n%s",
				strings.Join(args, " "), p.err, tail(d.Log(), 40))
		default:
		}
		if lastErr = pingOnce(d.path); lastErr == nil {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = cmd.Process.Signal(childproc.Kill)
	<-p.exited
	return fmt.Errorf("ferryd did not answer a ping within %v (last: %v); log:\n%s",
		ReadyTimeout, lastErr, tail(d.Log(), 40))
}

// pingOnce connects, sends one ping frame and waits for its reply: the daemon is ready.
func pingOnce(path string) error {
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	f := wire.AppendSimple(nil, wire.Header{ID: 1, Op: wire.OpPing})
	if _, err := conn.Write(f.Buf); err != nil {
		return err
	}
	body, err := wire.ReadFrame(bufio.NewReader(conn), wire.DefaultMaxFrame)
	if err != nil {
		return fmt.Errorf("reading ping reply: %w", err)
	}
	var r wire.Reply
	if err := wire.DecodeReply(body, wire.OpPing, &r, false); err != nil {
		return err
	}
	if r.ID != 1 || !r.OK {
		return fmt.Errorf("ping answered with id %d ok %v code %d %q", r.ID, r.OK, r.Code, r.Message)
	}
	return nil
}

func (d *Daemon) cleanup() {
	if p := d.current(); p != nil {
		select {
		case <-p.exited:
		default:
			if err := d.Terminate(); err != nil && !d.t.Failed() {
				d.t.Logf("testdaemon: ferryd exit: %v", err)
			}
		}
	}
	if d.t.Failed() {
		d.t.Logf("testdaemon: ferryd log (%s):\n%s", d.bin, tail(d.Log(), 60))
	}
	_ = os.RemoveAll(d.dir)
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

var (
	buildOnce sync.Once
	buildErr  error
)

// Binary returns the path of the ferryd binary to test, or ends the test: t.Fatal when CI is set,
// t.Skip (naming FERRYD_BIN) otherwise.
func Binary(t testing.TB) string {
	t.Helper()
	if !daemonPlatform {
		// Not a missing binary: ferryd itself is built and supported on Linux only.
		t.Skipf("testdaemon: ferryd runs on Linux only; skipping this daemon test on %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	if p := os.Getenv("FERRYD_BIN"); p != "" {
		if !isExecutable(p) {
			t.Fatalf("testdaemon: FERRYD_BIN=%s is not an executable file", p)
		}
		return p
	}
	root, err := repoRoot()
	if err != nil {
		missing(t, err.Error())
	}
	candidates := []string{
		filepath.Join(root, "target", "release", "ferryd"),
		filepath.Join(root, "target", "debug", "ferryd"),
	}
	if p := firstExecutable(candidates); p != "" {
		return p
	}
	if os.Getenv("FERRYD_BUILD") == "1" {
		buildOnce.Do(func() {
			cmd := exec.Command("cargo", "build", "--release")
			cmd.Dir = root
			out, err := cmd.CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("cargo build --release: %v\n%s", err, tail(string(out), 30))
			}
		})
		if buildErr != nil {
			t.Fatalf("testdaemon: %v", buildErr)
		}
		if p := firstExecutable(candidates); p != "" {
			return p
		}
	}
	missing(t, "no ferryd at "+strings.Join(candidates, " or "))
	return ""
}

func missing(t testing.TB, why string) {
	t.Helper()
	msg := "testdaemon: " + why + "; build it (cargo build --release, or FERRYD_BUILD=1) or set FERRYD_BIN to its path"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set, so this fails instead of skipping)")
	}
	t.Skip(msg)
}

func firstExecutable(paths []string) string {
	for _, p := range paths {
		if isExecutable(p) {
			return p
		}
	}
	return ""
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// repoRoot is the parent of the go-client module: found from the working directory (go test runs
// in the package directory), else from this file's compile-time path.
func repoRoot() (string, error) {
	if wd, err := os.Getwd(); err == nil {
		if mod := findModuleRoot(wd); mod != "" {
			return filepath.Dir(mod), nil
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		if mod := findModuleRoot(filepath.Dir(file)); mod != "" {
			return filepath.Dir(mod), nil
		}
	}
	return "", errors.New("cannot find the go-client module root")
}

func findModuleRoot(dir string) string {
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/ferryd/ferry/go-client")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
