package testdaemon

import (
	"os"
	"testing"
	"time"
)

// The harness itself, against the real binary: readiness, each signal, restart.
func TestLifecycle(t *testing.T) {
	d := Start(t)
	if len(d.Path()) >= 108 {
		t.Fatalf("socket path %q is too long for a Unix socket", d.Path())
	}
	if err := pingOnce(d.Path()); err != nil {
		t.Fatalf("ping after Start: %v", err)
	}

	d.Stop()
	if err := pingWithin(d.Path(), 200*time.Millisecond); err == nil {
		t.Fatal("a stopped daemon answered a ping")
	}
	d.Cont()
	if err := pingOnce(d.Path()); err != nil {
		t.Fatalf("ping after Cont: %v", err)
	}

	pid := d.Pid()
	d.Kill()
	if d.Running() {
		t.Fatal("running after Kill")
	}
	if err := pingOnce(d.Path()); err == nil {
		t.Fatal("a killed daemon answered a ping")
	}
	d.Restart() // over the stale socket file the kill left behind
	if d.Pid() == pid || !d.Running() {
		t.Fatalf("Restart: pid %d (was %d), running %v", d.Pid(), pid, d.Running())
	}
	if err := pingOnce(d.Path()); err != nil {
		t.Fatalf("ping after Restart: %v", err)
	}

	if err := d.Terminate(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	if _, err := os.Stat(d.Path()); !os.IsNotExist(err) {
		t.Fatalf("socket file still there after a graceful exit (stat: %v)", err)
	}
	select {
	case <-d.Exited():
	default:
		t.Fatal("Exited not closed after Terminate")
	}
}

func pingWithin(path string, d time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- pingOnce(path) }()
	select {
	case err := <-errc:
		return err
	case <-time.After(d):
		return os.ErrDeadlineExceeded
	}
}
