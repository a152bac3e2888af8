//go:build linux

// Command ferry-overload puts the plain ferry.Client and the router (router.New(client, nil),
// default options) side by side under overload, against a ferryd it starts itself, and writes
// a report of goodput, failures by class, latency, breaker openings and the daemon's answers,
// with the issue 21 bars marked PASS or MISS (benches/README.md, "Overload").
//
// Every caller sends 400x400 JPEG thumbnails of the sample photos, one job after another, each
// job under a context deadline; a busy or overloaded answer is retried at once inside the job's
// deadline, and every attempt is counted. Cells: callers x deadlines x with and without CPU-
// burning goroutines in the same process; then the daemon under a CPU quota of half a core
// (cgroup, needs root), then the daemon SIGKILLed and restarted mid-run.
//
// It drives a daemon it starts with Linux facilities (Pdeathsig, cgroups, getrusage), so it
// builds on Linux only, like the daemon it measures.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

type options struct {
	ferryd, photos, out, name, repo string
	before                          string
	cell                            time.Duration
	rounds                          int
	callers                         []int
	deadlines                       []time.Duration
	burn                            []bool
	maxQueueWait                    time.Duration
	quick, skipQuota, skipKill      bool
	skipStorm                       bool
	strict                          bool
	args                            []string // as given, for the report's command line
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferry-overload:", err)
		os.Exit(2)
	}
	handleInterrupts()
	res, err := run(o, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferry-overload:", err)
		os.Exit(1)
	}
	if res.Accounting != nil {
		fmt.Fprintf(os.Stderr, "ferry-overload: the counts do not add up, the figures cannot be trusted:\n%v\n", res.Accounting)
		os.Exit(1)
	}
	if o.strict && res.missed() > 0 {
		fmt.Fprintf(os.Stderr, "ferry-overload: %d bars missed (-strict)\n", res.missed())
		os.Exit(3)
	}
}

func parseFlags(args []string) (options, error) {
	root := repoRoot()
	fs := flag.NewFlagSet("ferry-overload", flag.ContinueOnError)
	o := options{args: args}
	fs.StringVar(&o.ferryd, "ferryd", filepath.Join(root, "target/release/ferryd"), "ferryd binary; the harness starts it on a socket in a temporary directory and owns its lifetime")
	fs.StringVar(&o.photos, "photos", filepath.Join(root, "tests/data/photos"), "directory of the photos to thumbnail (*.jpg, *.png)")
	fs.StringVar(&o.out, "out", filepath.Join(root, "benches/report/overload"), "directory of the report")
	fs.StringVar(&o.name, "name", "report", "the report's file name without extension: NAME.md and NAME.svg")
	fs.StringVar(&o.before, "before", "", "an earlier run's NAME.json: the report sets this run's figures beside it")
	fs.StringVar(&o.repo, "repo", root, "the repository, for the daemon's git revision in the report")
	fs.DurationVar(&o.cell, "cell", 5*time.Second, "time each subject spends in each cell")
	fs.IntVar(&o.rounds, "rounds", 6, "slices each subject's time in a cell is cut into, alternating with the other subject's")
	callers := fs.String("callers", "2,8,64,320", "caller counts of the grid")
	deadlines := fs.String("deadlines", "1s,5s", "per-job context deadlines of the grid")
	burn := fs.String("burn", "off,on", "CPU-burning goroutines beside the callers: off, on, or both")
	fs.DurationVar(&o.maxQueueWait, "max-queue-wait", 2*time.Second, "passed to ferryd as --max-queue-wait; the accepted-latency bar adds twice the unloaded time to it")
	fs.BoolVar(&o.quick, "quick", false, "one small cell (8 callers, 1 s deadlines, no burners, 1.5 s per subject), no quota or kill cell: the smoke test's run")
	fs.BoolVar(&o.skipQuota, "skip-quota", false, "leave out the cell with the daemon under a CPU quota")
	fs.BoolVar(&o.skipKill, "skip-kill", false, "leave out the cell that kills and restarts the daemon")
	fs.BoolVar(&o.skipStorm, "skip-storm", false, "leave out the retry storm from a Client with its throttle off (where the daemon's own busy answer time is measured)")
	fs.BoolVar(&o.strict, "strict", false, "exit with status 3 when any bar is missed")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.callers, err = parseList(*callers, strconv.Atoi); err != nil {
		return o, fmt.Errorf("-callers: %w", err)
	}
	if o.deadlines, err = parseList(*deadlines, time.ParseDuration); err != nil {
		return o, fmt.Errorf("-deadlines: %w", err)
	}
	if o.burn, err = parseList(*burn, parseOnOff); err != nil {
		return o, fmt.Errorf("-burn: %w", err)
	}
	if o.rounds < 1 {
		return o, fmt.Errorf("-rounds %d: at least 1", o.rounds)
	}
	if o.quick {
		o.callers, o.deadlines, o.burn = []int{8}, []time.Duration{time.Second}, []bool{false}
		o.cell, o.skipQuota, o.skipKill, o.skipStorm = 1500*time.Millisecond, true, true, true
	}
	return o, nil
}

func parseList[T any](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		v, err := parse(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func parseOnOff(s string) (bool, error) {
	switch s {
	case "on":
		return true, nil
	case "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is neither on nor off", s)
}

// repoRoot is the nearest directory above the working directory holding both Cargo.toml and
// go-client (make runs the harness from go-client), else the working directory.
func repoRoot() string {
	wd, _ := os.Getwd()
	for dir := wd; ; dir = filepath.Dir(dir) {
		if exists(filepath.Join(dir, "Cargo.toml")) && exists(filepath.Join(dir, "go-client")) {
			return dir
		}
		if filepath.Dir(dir) == dir {
			return wd
		}
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// run is the whole harness: every cell, the report, the plot.
func run(o options, w io.Writer) (*results, error) {
	if !exists(o.ferryd) {
		return nil, fmt.Errorf("no ferryd at %s: build it (make daemon) or pass -ferryd", o.ferryd)
	}
	photos, err := loadPhotos(o.photos)
	if err != nil {
		return nil, err
	}
	res := &results{Opts: o, Started: time.Now(), Machine: describeMachine(o)}
	if o.before != "" {
		if res.Before, err = readSummary(o.before); err != nil {
			return nil, fmt.Errorf("-before: %w", err)
		}
	}
	mark := markCPU()
	flags := []string{"--log-level", "warn", "--max-queue-wait", strconv.FormatFloat(o.maxQueueWait.Seconds(), 'f', -1, 64)}
	res.DaemonFlags = flags
	fmt.Fprintf(w, "ferry-overload: %s, %d photos, %v per subject per cell\n", res.Machine.summary(), len(photos), o.cell)

	d, err := startDaemon(o.ferryd, flags)
	if err != nil {
		return nil, err
	}
	defer d.close()
	if res.Unloaded, err = measureUnloaded(d, photos); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "unloaded thumbnail p50, one caller: %s\n", res.Unloaded)

	printHeader(w)
	i := 0
	for _, burn := range o.burn {
		for _, dl := range o.deadlines {
			for _, n := range o.callers {
				spec := cellSpec{Callers: n, Deadline: dl, Burn: burn}
				dur, rounds := o.cell, o.rounds
				if spec.latencyBound() {
					dur, rounds = dur*latencyBoundFactor, rounds*latencyBoundFactor
				}
				c, err := runCell(d, spec, photos, dur, rounds, i%2 == 1)
				if err != nil {
					return nil, fmt.Errorf("cell %v: %w", cellSpec{n, dl, burn}, err)
				}
				printCell(w, c)
				res.Cells = append(res.Cells, c)
				i++
			}
		}
	}
	if o.skipStorm {
		res.StormNote = "left out (-skip-storm or -quick)"
	} else {
		fmt.Fprintf(w, "\nretry storm from a Client with its throttle off (WithThrottle(-1)):\n")
		if res.Storm, err = runStorm(d, photos, o.cell); err != nil {
			return nil, fmt.Errorf("storm cell: %w", err)
		}
		printStorm(w, res.Storm)
	}
	d.close()

	if o.skipQuota {
		res.QuotaNote = "left out (-skip-quota or -quick)"
	} else if err := runQuota(o, flags, photos, res, w); err != nil {
		res.QuotaNote = "SKIPPED: " + err.Error()
		fmt.Fprintf(w, "\n*** CPU-quota cell SKIPPED: %v\n", err)
	}
	if o.skipKill {
		res.KillNote = "left out (-skip-kill or -quick)"
	} else {
		kd, err := startDaemon(o.ferryd, flags)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "\nkill cell: %d callers, %v deadlines; SIGKILL after %v, restart %v later, %v more\n", killCallers, killDeadline, killAfter, downWord(), afterRestart)
		res.Kill, err = runKill(kd, photos)
		kd.close()
		if err != nil {
			return nil, fmt.Errorf("kill cell: %w", err)
		}
		for _, k := range res.Kill {
			printKill(w, k)
		}
	}
	res.Took = time.Since(res.Started)
	res.OthersCPU = othersShare(mark, markCPU(), res.Machine.CPUs)
	res.Accounting = res.checkAll()
	res.judge()
	printBars(w, res)
	if err := res.write(); err != nil {
		return res, err
	}
	fmt.Fprintf(w, "\nreport: %s (%v; other processes used %.0f%% of the CPUs meanwhile)\n", filepath.Join(o.out, o.name+".md"), res.Took.Round(time.Second), res.OthersCPU*100)
	return res, nil
}

// runQuota runs the quota cells on a daemon of their own, held to half a core by a cgroup.
func runQuota(o options, flags []string, photos []photo, res *results, w io.Writer) error {
	if os.Geteuid() != 0 {
		return errors.New("not root: a cgroup's CPU quota cannot be set")
	}
	qd, err := startDaemon(o.ferryd, flags)
	if err != nil {
		return err
	}
	defer qd.close()
	q, err := limitCPU(qd.pid())
	if err != nil {
		return err
	}
	defer onInterrupt(func() { qd.kill(); q.remove() })()
	res.QuotaNote = fmt.Sprintf("cgroup v%d %s: %d us of CPU per %d us period", q.version, q.dir, quotaUs, periodUs)
	fmt.Fprintf(w, "\ndaemon under a CPU quota of half a core (%s)\n", res.QuotaNote)
	for i, spec := range quotaCells {
		c, err := runCell(qd, spec, photos, o.cell, o.rounds, i%2 == 1)
		if err != nil {
			qd.kill()
			q.remove()
			return fmt.Errorf("quota cell %v: %w", spec, err)
		}
		printCell(w, c)
		res.Quota = append(res.Quota, c)
	}
	res.QuotaThrottled = q.throttled()
	qd.kill()
	if err := q.remove(); err != nil {
		fmt.Fprintf(w, "warning: could not remove %s: %v\n", q.dir, err)
	}
	return nil
}

// quotaCells: a moderate load and the worst case (64 callers, 1 s deadlines).
var quotaCells = []cellSpec{{Callers: 8, Deadline: 5 * time.Second}, {Callers: 64, Deadline: time.Second}}
