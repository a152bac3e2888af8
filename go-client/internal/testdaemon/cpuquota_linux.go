package testdaemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LimitCPU puts the daemon (its current run) under a CPU quota of share cores (0.5: half a core)
// in a cgroup of its own, through the cgroup v2 cpu controller (cpu.max) or, on a host with the
// v1 hierarchy, the v1 cpu controller (cpu.cfs_quota_us). It returns a description of what it
// did, or an error when neither can be written (not root, no cpu controller): the caller skips
// loudly with it. The cgroup is removed by cleanup, the daemon moved back first.
func (d *Daemon) LimitCPU(share float64) (string, error) {
	pid := d.Pid()
	if pid == 0 {
		return "", fmt.Errorf("daemon not running")
	}
	const period = 100000 // µs
	quota := int(share * period)
	name := fmt.Sprintf("ferry-test-%d", pid)
	type hierarchy struct {
		root, limitFile, limit string
		extra                  [][2]string
	}
	tries := []hierarchy{
		{"/sys/fs/cgroup", "cpu.max", fmt.Sprintf("%d %d", quota, period), nil},
		{"/sys/fs/cgroup/cpu", "cpu.cfs_quota_us", fmt.Sprint(quota), [][2]string{{"cpu.cfs_period_us", fmt.Sprint(period)}}},
	}
	var errs []string
	for _, h := range tries {
		if _, err := os.Stat(filepath.Join(h.root, "cgroup.procs")); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", h.root, err))
			continue
		}
		if h.limitFile == "cpu.max" {
			// v2: the cpu controller must be enabled for the root's children.
			ctl, err := os.ReadFile(filepath.Join(h.root, "cgroup.controllers"))
			if err != nil || !strings.Contains(string(ctl), "cpu") {
				errs = append(errs, fmt.Sprintf("%s: no cgroup v2 cpu controller", h.root))
				continue
			}
			_ = os.WriteFile(filepath.Join(h.root, "cgroup.subtree_control"), []byte("+cpu"), 0o644)
		}
		dir := filepath.Join(h.root, name)
		if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
			errs = append(errs, fmt.Sprintf("%s: %v", dir, err))
			continue
		}
		undo := func() {
			_ = os.WriteFile(filepath.Join(h.root, "cgroup.procs"), []byte(fmt.Sprint(pid)), 0o644)
			_ = os.Remove(dir)
		}
		err := error(nil)
		for _, kv := range h.extra {
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, kv[0]), []byte(kv[1]), 0o644)
			}
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, h.limitFile), []byte(h.limit), 0o644)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(fmt.Sprint(pid)), 0o644)
		}
		if err != nil {
			undo()
			errs = append(errs, fmt.Sprintf("%s: %v", dir, err))
			continue
		}
		d.t.Cleanup(undo)
		return fmt.Sprintf("ferryd (pid %d) limited to %.2f cores: %s = %q", pid, share, filepath.Join(dir, h.limitFile), h.limit), nil
	}
	return "", fmt.Errorf("no writable cgroup cpu controller: %s", strings.Join(errs, "; "))
}
