package router

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	ferry "github.com/ferryd/ferry/go-client"

	"github.com/zeebo/xxh3"
)

// RouteMode is how the Router splits traffic between the daemon and the Go path.
type RouteMode string

// The routing modes.
const (
	// RouteRust sends every request to the daemon (falling back to Go when it fails).
	RouteRust RouteMode = "rust"
	// RouteGo sends every request to the Go path: the kill switch. The daemon is not called.
	RouteGo RouteMode = "go"
	// RoutePercentage sends Policy.RustPercent of the requests to the daemon and the rest to
	// Go. A request with a Key always takes the same path for the same percentage.
	RoutePercentage RouteMode = "percentage"
	// RouteShadow runs every request on both paths, returns the primary's result and compares
	// the other's in the background, counting and logging mismatches.
	RouteShadow RouteMode = "shadow"
	// RouteAuto sends each request to the path its cost table (CostTable) says is faster for
	// its operation, algorithms or input format, and size; the reason recorded is ReasonCost.
	RouteAuto RouteMode = "auto"
)

// Policy is the Router's routing rule. Change it at run time with Router.SetPolicy, the
// FERRY_ROUTE environment variable (read when the Router is made) or the policy file (watched).
type Policy struct {
	Mode RouteMode
	// RustPercent is the share of requests sent to the daemon in RoutePercentage, 0 to 100.
	RustPercent float64
	// ShadowPrimary is the path whose result RouteShadow returns; the other is the shadow.
	// Empty means ferry.PathRust.
	ShadowPrimary ferry.Path
}

// Route policy sources, for logs and the policy_changes metric.
const (
	// EnvRoute names the environment variable read when a Router is made: a policy in
	// ParsePolicy's syntax, e.g. FERRY_ROUTE=go to start with the daemon switched off.
	EnvRoute = "FERRY_ROUTE"
	// EnvRouteFile names the environment variable giving the policy file's path when
	// WithPolicyFile is not used.
	EnvRouteFile = "FERRY_ROUTE_FILE"
	// DefaultPolicyPollInterval is how often the policy file is checked for changes: a change
	// takes effect within about this long.
	DefaultPolicyPollInterval = time.Second
)

// ParsePolicy reads a policy from its text form, as written in FERRY_ROUTE or the policy file
// (case and surrounding spaces ignored):
//
//	rust | all-rust                     every request to the daemon
//	go | all-go | off                   every request to Go (the kill switch)
//	percentage:25 | percent:25 | 25%    25% of requests to the daemon, the rest to Go
//	shadow | shadow:rust                both paths, the daemon's result returned
//	shadow:go                           both paths, the Go path's result returned
//	auto                                each request to the faster path per the cost table
func ParsePolicy(s string) (Policy, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	switch t {
	case "rust", "all-rust", "all_rust":
		return Policy{Mode: RouteRust}, nil
	case "go", "all-go", "all_go", "off":
		return Policy{Mode: RouteGo}, nil
	case "shadow", "shadow:rust":
		return Policy{Mode: RouteShadow, ShadowPrimary: ferry.PathRust}, nil
	case "shadow:go":
		return Policy{Mode: RouteShadow, ShadowPrimary: ferry.PathGo}, nil
	case "auto":
		return Policy{Mode: RouteAuto}, nil
	}
	num, ok := strings.CutSuffix(t, "%")
	for _, prefix := range []string{"percentage:", "percent:"} {
		if rest, found := strings.CutPrefix(num, prefix); found {
			num, ok = rest, true
		}
	}
	if ok {
		pct, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil {
			return Policy{}, fmt.Errorf("ferry: route policy %q: bad percentage: %w", s, err)
		}
		p := Policy{Mode: RoutePercentage, RustPercent: pct}
		return p, p.validate()
	}
	return Policy{}, fmt.Errorf("ferry: route policy %q: want rust, go, percentage:N, N%%, shadow, shadow:go or auto", s)
}

// String is the policy in ParsePolicy's syntax.
func (p Policy) String() string {
	switch p.Mode {
	case RoutePercentage:
		return "percentage:" + strconv.FormatFloat(p.RustPercent, 'f', -1, 64)
	case RouteShadow:
		if p.ShadowPrimary == ferry.PathGo {
			return "shadow:go"
		}
		return "shadow:rust"
	}
	return string(p.Mode)
}

func (p Policy) validate() error {
	switch p.Mode {
	case RouteRust, RouteGo, RouteAuto:
	case RoutePercentage:
		if !(p.RustPercent >= 0 && p.RustPercent <= 100) { // also refuses NaN
			return fmt.Errorf("ferry: route percentage %v is outside 0..100", p.RustPercent)
		}
	case RouteShadow:
		if p.ShadowPrimary != "" && p.ShadowPrimary != ferry.PathRust && p.ShadowPrimary != ferry.PathGo {
			return fmt.Errorf("ferry: shadow primary %q is neither rust nor go", p.ShadowPrimary)
		}
	default:
		return fmt.Errorf("ferry: unknown route mode %q", p.Mode)
	}
	return nil
}

// RustShare is the percentage of requests whose result comes from the daemon under p: 100 for
// RouteRust and a shadow mode with the daemon primary, 0 for RouteGo and a Go primary,
// RustPercent for RoutePercentage, and -1 for RouteAuto, which decides per request.
func (p Policy) RustShare() float64 {
	switch p.Mode {
	case RouteAuto:
		return -1
	case RouteRust:
		return 100
	case RoutePercentage:
		return p.RustPercent
	case RouteShadow:
		if p.ShadowPrimary == ferry.PathGo {
			return 0
		}
		return 100
	}
	return 0
}

// keyToRust decides percentage routing. With a key, the decision is a pure function of the key
// and the percentage (XXH3 of the key, in 1/10000ths: well mixed even for keys that differ in one digit), so retries of a request land on the
// same path and raising the percentage only moves keys from Go to Rust, never back. Without a
// key it is a fresh random draw.
func keyToRust(key string, pct float64) bool {
	if pct <= 0 {
		return false
	}
	if pct >= 100 {
		return true
	}
	if key == "" {
		return randFloat()*100 < pct
	}
	return float64(xxh3.HashString(key)%10000) < pct*100
}

// readPolicyFile reads the policy from a file: the first line that is neither empty nor a
// comment (#).
func readPolicyFile(path string) (Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Policy{}, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		s := strings.TrimSpace(string(line))
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		return ParsePolicy(s)
	}
	return Policy{}, fmt.Errorf("ferry: policy file %s holds no policy", path)
}

// fileStamp identifies a version of the policy file cheaply: a changed file almost always has a
// new modification time or size; the content is compared too, for editors that keep both.
type fileStamp struct {
	mod     time.Time
	size    int64
	content string
}

// stampPolicyFile reads the file's identity and content.
func stampPolicyFile(path string) (fileStamp, error) {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{st.ModTime(), st.Size(), string(b)}, nil
}

// watchPolicyFile polls the policy file every interval until stop is closed, applying each new
// valid policy. last is the version already applied when the Router was made, so a policy set
// since with SetPolicy stands until the file really changes. A missing file changes nothing
// (the policy in force stays); a file that does not parse is logged and ignored.
func (r *Router) watchPolicyFile(path string, interval time.Duration, last fileStamp, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	missingLogged := false
	check := func() {
		stamp, err := stampPolicyFile(path)
		if err != nil {
			if !missingLogged {
				r.log.Info("ferry router: policy file not readable; keeping the policy in force",
					"path", path, "err", err, "policy", r.Policy().String())
				missingLogged = true
			}
			last = fileStamp{}
			return
		}
		missingLogged = false
		if stamp == last {
			return
		}
		last = stamp
		p, err := readPolicyFile(path)
		if err != nil {
			r.log.Warn("ferry router: policy file ignored", "path", path, "err", err)
			return
		}
		r.applyPolicy(p, "file")
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			check()
		}
	}
}
