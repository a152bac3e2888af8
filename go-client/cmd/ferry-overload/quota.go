//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Half a core: quota and period of the CFS bandwidth controller, in microseconds.
const (
	quotaUs  = 50000
	periodUs = 100000
)

// cpuQuota is a cgroup the harness made to hold the daemon to half a core. cgroup v2 when its
// cpu controller is available; else v1's cpu hierarchy (hosts that still mount v1 controllers,
// where v2's unified tree cannot take the cpu controller).
type cpuQuota struct {
	dir     string
	version int
}

// limitCPU moves pid into a new cgroup limited to half a core. It needs root.
func limitCPU(pid int) (*cpuQuota, error) {
	v2, v1, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("ferry-overload-%d", os.Getpid())
	var why []error
	if v2 != "" {
		q, err := limitV2(v2, name, pid)
		if err == nil {
			return q, nil
		}
		why = append(why, fmt.Errorf("cgroup v2 at %s: %w", v2, err))
	}
	if v1 != "" {
		q, err := limitV1(v1, name, pid)
		if err == nil {
			return q, nil
		}
		why = append(why, fmt.Errorf("cgroup v1 cpu at %s: %w", v1, err))
	}
	if len(why) == 0 {
		return nil, errors.New("no cgroup v2 mount and no cgroup v1 cpu hierarchy in /proc/self/mountinfo")
	}
	return nil, errors.Join(why...)
}

func limitV2(root, name string, pid int) (*cpuQuota, error) {
	controllers, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	if err != nil {
		return nil, err
	}
	if !hasWord(string(controllers), "cpu") {
		return nil, fmt.Errorf("the cpu controller is not available there (controllers: %q; bound to a v1 hierarchy?)", strings.TrimSpace(string(controllers)))
	}
	sub := filepath.Join(root, "cgroup.subtree_control")
	enabled, err := os.ReadFile(sub)
	if err != nil {
		return nil, err
	}
	if !hasWord(string(enabled), "cpu") {
		if err := os.WriteFile(sub, []byte("+cpu"), 0); err != nil {
			return nil, fmt.Errorf("enabling cpu in %s: %w", sub, err)
		}
	}
	q := &cpuQuota{dir: filepath.Join(root, name), version: 2}
	if err := os.Mkdir(q.dir, 0o755); err != nil {
		return nil, err
	}
	if err := q.write("cpu.max", fmt.Sprintf("%d %d", quotaUs, periodUs)); err != nil {
		q.remove()
		return nil, err
	}
	if err := q.write("cgroup.procs", strconv.Itoa(pid)); err != nil {
		q.remove()
		return nil, err
	}
	return q, nil
}

func limitV1(root, name string, pid int) (*cpuQuota, error) {
	q := &cpuQuota{dir: filepath.Join(root, name), version: 1}
	if err := os.Mkdir(q.dir, 0o755); err != nil {
		return nil, err
	}
	for _, w := range [][2]string{{"cpu.cfs_period_us", strconv.Itoa(periodUs)}, {"cpu.cfs_quota_us", strconv.Itoa(quotaUs)}, {"cgroup.procs", strconv.Itoa(pid)}} {
		if err := q.write(w[0], w[1]); err != nil {
			q.remove()
			return nil, err
		}
	}
	return q, nil
}

func (q *cpuQuota) write(file, value string) error {
	if err := os.WriteFile(filepath.Join(q.dir, file), []byte(value), 0); err != nil {
		return fmt.Errorf("writing %q to %s: %w", value, file, err)
	}
	return nil
}

// throttled reads how many periods the quota held the daemon back (cpu.stat nr_throttled):
// evidence that the quota bit.
func (q *cpuQuota) throttled() int {
	b, err := os.ReadFile(filepath.Join(q.dir, "cpu.stat"))
	if err != nil {
		return -1
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "nr_throttled "); ok {
			n, _ := strconv.Atoi(rest)
			return n
		}
	}
	return -1
}

// remove deletes the cgroup; its processes must have exited (the harness stops the daemon
// first), which the kernel may take a moment to notice.
func (q *cpuQuota) remove() error {
	var err error
	for range 50 {
		if err = os.Remove(q.dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// cgroupMounts finds the cgroup v2 mount and the v1 hierarchy holding the cpu controller.
func cgroupMounts() (v2, v1cpu string, err error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ... mountpoint(5th) ... - fstype source superoptions
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || len(fields) < sep+4 || len(fields) < 5 {
			continue
		}
		switch fields[sep+1] {
		case "cgroup2":
			if v2 == "" {
				v2 = fields[4]
			}
		case "cgroup":
			if v1cpu == "" && hasWord(strings.ReplaceAll(fields[sep+3], ",", " "), "cpu") {
				v1cpu = fields[4]
			}
		}
	}
	return v2, v1cpu, sc.Err()
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}
