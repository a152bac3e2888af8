package router

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"
)

// The reasons a Router records in ferry.Served, besides ferry.ReasonDirect (which it never
// records).
const (
	// ReasonPolicy: the policy (RouteRust) sends this request to the daemon.
	ReasonPolicy ferry.Reason = "policy"
	// ReasonFallback: the daemon failed this request and the Go path served it instead.
	ReasonFallback ferry.Reason = "fallback"
	// ReasonBreakerOpen: the circuit breaker is open, so the daemon was not tried.
	ReasonBreakerOpen ferry.Reason = "breaker_open"
	// ReasonThrottled: the client-side throttle refused the request; the daemon was not called
	// (on an Error only, or as a fallback's "why" in the metrics).
	ReasonThrottled ferry.Reason = "throttled"
	// ReasonPercentage: percentage mode drew this path for this request (or its Key).
	ReasonPercentage ferry.Reason = "percentage"
	// ReasonShadow: shadow mode; this path is the primary, whose result is returned, and the
	// other path ran in the background for comparison.
	ReasonShadow ferry.Reason = "shadow"
	// ReasonKillSwitch: the policy in force sends everything to Go (RouteGo); the daemon was not
	// called.
	ReasonKillSwitch ferry.Reason = "kill_switch"
	// ReasonCost: RouteAuto's cost table says this path is the faster one for this request.
	ReasonCost ferry.Reason = "cost"
)

// Router routes each request to the daemon or to the Go path; see the package documentation. A
// Router is safe for concurrent use. Close it to stop the policy file watcher and wait for
// background shadow comparisons and probes; it does not close the Processors it was given.
type Router struct {
	rust, goPath ferry.Processor
	// pinger is rust's Ping, when it has one: the breaker then tests the daemon with a ping in
	// the background before it lets requests through again.
	pinger  pinger
	cfg     config
	policy  atomic.Pointer[Policy]
	breaker *breaker
	// closedBreaker ends when the breaker opens (and is then replaced): daemon attempts in
	// flight stop waiting on a daemon the breaker has judged broken and go to the Go path with
	// the time they have left.
	closedBreaker atomic.Pointer[breakerEpoch]
	// throttle is the Router's own throttle, or the daemon client's when that throttles itself
	// (ownThrottle false: see clientThrottle).
	throttle    *ferry.Throttle
	ownThrottle bool
	obs         Observer
	log         Logger

	// shadowSlots bounds the shadow calls running at once (cfg.shadow.MaxInFlight): a request
	// that finds it full is not shadowed (counted as skipped) rather than queued, so shadow mode
	// never holds memory or CPU beyond this bound, nor slows the primary path.
	shadowSlots chan struct{}
	// bgMu guards closed against bgWG.Add, so Close can wait for every shadow call and probe.
	bgMu   sync.RWMutex
	closed bool
	bgWG   sync.WaitGroup

	// stopWatch stops the policy file watcher, which closes watchDone when it has returned.
	stopWatch chan struct{}
	watchDone chan struct{}
	closeOnce sync.Once
}

// New returns a Router between rust (the daemon, normally a *ferry.Client; dial it with
// ferry.WithLazyConnect so a service can start while the daemon is down) and goPath (nil means
// goproc.New()). It fails when FERRY_ROUTE or the policy file holds an invalid policy: a
// kill switch that silently does nothing is worse than a service that does not start. For the
// same reason it fails when the cost table (WithCostTableFile, or the file FERRY_COST_TABLE
// names when no table option is given) cannot be read or is invalid.
func New(rust, goPath ferry.Processor, opts ...Option) (*Router, error) {
	if rust == nil {
		return nil, errors.New("ferry router: New: the daemon Processor (rust) is nil")
	}
	if goPath == nil {
		goPath = goproc.New()
	}
	cfg := config{policy: Policy{Mode: RouteRust}}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.pollInterval <= 0 {
		cfg.pollInterval = DefaultPolicyPollInterval
	}
	if cfg.rustTimeout <= 0 {
		cfg.rustTimeout = DefaultRustTimeout
	}
	if cfg.observer == nil {
		cfg.observer = NopObserver{}
	}
	if cfg.log == nil {
		cfg.log = nopLogger{}
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if cfg.shadow.MaxInFlight <= 0 {
		cfg.shadow.MaxInFlight = DefaultShadowMaxInFlight
	}
	if cfg.shadow.Timeout <= 0 {
		cfg.shadow.Timeout = DefaultShadowTimeout
	}
	if cfg.shadow.MinPSNR <= 0 {
		cfg.shadow.MinPSNR = DefaultShadowMinPSNR
	}
	if cfg.policyFile == "" {
		cfg.policyFile = os.Getenv(EnvRouteFile)
	}
	if cfg.costTable == nil && cfg.costFile == "" {
		cfg.costFile = os.Getenv(EnvCostTable)
	}
	switch {
	case cfg.costFile != "":
		t, err := LoadCostTable(cfg.costFile)
		if err != nil {
			return nil, err
		}
		cfg.costTable = t
	case cfg.costTable != nil:
		if err := cfg.costTable.Validate(); err != nil {
			return nil, err
		}
	default:
		cfg.costTable = DefaultCostTable()
	}
	cfg.routes = compileRoutes(cfg.costTable)
	r := &Router{
		rust: rust, goPath: goPath, cfg: cfg,
		obs:         cfg.observer,
		log:         cfg.log,
		shadowSlots: make(chan struct{}, cfg.shadow.MaxInFlight),
	}
	r.pinger, _ = rust.(pinger)
	r.closedBreaker.Store(newBreakerEpoch())
	r.breaker = newBreaker(cfg.breaker, cfg.now, r.breakerChanged, r.pinger != nil)
	if t := selfThrottled(rust); t != nil {
		r.throttle = t
	} else {
		r.throttle = ferry.NewThrottle(cfg.throttle, cfg.now, r.throttleChanged)
		r.ownThrottle = !r.throttle.Off()
	}

	policy, source := cfg.policy, "option"
	if err := policy.validate(); err != nil {
		return nil, err
	}
	if s := os.Getenv(EnvRoute); s != "" {
		p, err := ParsePolicy(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvRoute, err)
		}
		policy, source = p, "env"
	}
	var stamp fileStamp
	if cfg.policyFile != "" {
		if st, err := stampPolicyFile(cfg.policyFile); err == nil {
			p, err := readPolicyFile(cfg.policyFile)
			if err != nil {
				return nil, err
			}
			policy, source, stamp = p, "file", st
		}
	}
	r.applyPolicy(policy, source)
	if cfg.policyFile != "" {
		r.stopWatch, r.watchDone = make(chan struct{}), make(chan struct{})
		go r.watchPolicyFile(cfg.policyFile, cfg.pollInterval, stamp, r.stopWatch, r.watchDone)
	}
	return r, nil
}

// The Router is one of the interchangeable Processors.
var _ ferry.Processor = (*Router)(nil)

// CostTable returns the table RouteAuto routes by. It is the Router's own: do not change it.
func (r *Router) CostTable() *CostTable { return r.cfg.costTable }

// Policy returns the policy in force.
func (r *Router) Policy() Policy { return *r.policy.Load() }

// SetPolicy changes the policy at once, for every request that starts afterwards. It stands
// until the next SetPolicy or change of the policy file.
func (r *Router) SetPolicy(p Policy) error {
	if err := p.validate(); err != nil {
		return err
	}
	r.applyPolicy(p, "api")
	return nil
}

func (r *Router) applyPolicy(p Policy, source string) {
	if p.Mode == RouteShadow && p.ShadowPrimary == "" {
		p.ShadowPrimary = ferry.PathRust
	}
	old := r.policy.Swap(&p)
	r.obs.PolicyChanged(p, source)
	if old == nil {
		r.log.Info("ferry router: policy", "policy", p.String(), "source", source)
	} else if *old != p {
		r.log.Warn("ferry router: policy changed", "from", old.String(), "to", p.String(), "source", source)
	}
}

// BreakerState returns the state of the circuit breaker in front of the daemon.
func (r *Router) BreakerState() BreakerState { return r.breaker.State() }

// ThrottleProbability returns the client-side throttle's refusal probability now (the daemon
// client's, when it throttles itself): 0 while the
// daemon accepts what it is sent.
func (r *Router) ThrottleProbability() float64 { return r.throttle.Probability() }

// Close stops the policy file watcher and waits for shadow comparisons and probes in flight.
// Requests made after Close still work (they are not shadowed); the Processors are not closed.
func (r *Router) Close() error {
	r.closeOnce.Do(func() {
		if r.stopWatch != nil {
			close(r.stopWatch)
			<-r.watchDone
		}
		r.bgMu.Lock()
		r.closed = true
		r.bgMu.Unlock()
		r.bgWG.Wait()
	})
	return nil
}

// goBackground runs f in a goroutine that Close waits for; false (f not run) once closed.
func (r *Router) goBackground(f func()) bool {
	r.bgMu.RLock()
	defer r.bgMu.RUnlock()
	if r.closed {
		return false
	}
	r.bgWG.Add(1)
	go func() {
		defer r.bgWG.Done()
		f()
	}()
	return true
}

// breakerEpoch is a context that ends when the breaker opens.
type breakerEpoch struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
}

func newBreakerEpoch() *breakerEpoch {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &breakerEpoch{ctx, cancel}
}

// errBreakerOpened ends the daemon attempts in flight when the breaker opens.
var errBreakerOpened = errors.New("ferry router: circuit breaker opened while the daemon attempt waited")

func (r *Router) breakerChanged(from, to BreakerState) {
	if to == BreakerOpen {
		r.closedBreaker.Swap(newBreakerEpoch()).cancel(errBreakerOpened)
	}
	r.obs.BreakerChanged(from, to)
	if to == BreakerOpen {
		r.log.Warn("ferry router: breaker open; daemon requests go to the Go path", "from", from.String(),
			"retry_in", r.breaker.cfg.OpenFor)
	} else {
		r.log.Info("ferry router: breaker "+to.String(), "from", from.String())
	}
}

func (r *Router) throttleChanged(engaged bool, p float64) {
	if engaged {
		r.log.Warn("ferry router: throttle engaged: the daemon answers busy; refusing some requests locally",
			"reject_probability", p)
	} else {
		r.log.Info("ferry router: throttle released: the daemon accepts again")
	}
}

// maxUpload bounds what Resize and Checksum read of an upload given as a reader (ImageReader,
// DataReader) before routing: the largest frame the protocol can carry. Each path then refuses
// by its own limit (the daemon's max_frame, goproc's MaxInputBytes), as it would plain bytes.
const maxUpload = 1<<32 - 1

// Resize routes one resize by policy; see Router. An upload given as ImageReader is read (or
// taken as a file) once, before routing, so that the cost table sees its header and a shadow call
// its own copy.
func (r *Router) Resize(ctx context.Context, req ferry.ResizeRequest) (*ferry.ResizeResult, error) {
	if err := req.ResolveReader(maxUpload); err != nil {
		return nil, &Error{Err: err} // no path was chosen: the upload itself is wrong
	}
	return route(r, ctx, &routedOp[*ferry.ResizeResult]{
		op:  "resize",
		key: req.Key,
		// A file's header is not in memory: it goes to the daemon, which reads it itself.
		toRust:    func(t *costRoutes) bool { return req.File != nil || t.resizeToRust(req.Image) },
		run:       func(ctx context.Context, p ferry.Processor) (*ferry.ResizeResult, error) { return p.Resize(ctx, req) },
		setServed: func(res *ferry.ResizeResult, s ferry.Served) { res.Served = s },
		detach: func() func(context.Context, ferry.Processor) (*ferry.ResizeResult, error) {
			own := req
			if req.File != nil {
				file, err := dupFile(req.File)
				own.File = file
				return func(ctx context.Context, p ferry.Processor) (*ferry.ResizeResult, error) {
					if err != nil {
						return nil, err
					}
					defer file.Close()
					return p.Resize(ctx, own)
				}
			}
			own.Image = append([]byte(nil), req.Image...)
			own.Outputs = append([]ferry.OutputSpec(nil), req.Outputs...)
			return func(ctx context.Context, p ferry.Processor) (*ferry.ResizeResult, error) { return p.Resize(ctx, own) }
		},
		snapshot: func(res *ferry.ResizeResult) *ferry.ResizeResult {
			own := *res
			own.Image = append([]byte(nil), res.Image...)
			if res.Outputs != nil {
				own.Outputs = make([]ferry.Output, len(res.Outputs))
				for i, o := range res.Outputs {
					o.Image = append([]byte(nil), o.Image...)
					own.Outputs[i] = o
				}
			}
			return &own
		},
		compare: r.compareResize,
		notOnGo: func(goPath ferry.Processor) error {
			if s, ok := goPath.(goServer); ok {
				return s.Serves(&req)
			}
			return nil
		},
		formats: func() []ferry.Format { return resizeFormats(&req) },
		withFormats: func(instead map[ferry.Format]ferry.Format) func(context.Context, ferry.Processor) (*ferry.ResizeResult, error) {
			own := withFormats(req, instead)
			return func(ctx context.Context, p ferry.Processor) (*ferry.ResizeResult, error) { return p.Resize(ctx, own) }
		},
	})
}

// Checksum routes one checksum by policy; see Router.
func (r *Router) Checksum(ctx context.Context, req ferry.ChecksumRequest) (*ferry.ChecksumResult, error) {
	if err := req.ResolveReader(maxUpload); err != nil {
		return nil, &Error{Err: err} // no path was chosen: the upload itself is wrong
	}
	return route(r, ctx, &routedOp[*ferry.ChecksumResult]{
		op:  "checksum",
		key: req.Key,
		toRust: func(t *costRoutes) bool {
			if req.File != nil {
				return t.checksumFileToRust(req.Algorithms, fileLen(req.File))
			}
			return t.checksumToRust(req.Algorithms, len(req.Data))
		},
		run: func(ctx context.Context, p ferry.Processor) (*ferry.ChecksumResult, error) {
			return p.Checksum(ctx, req)
		},
		setServed: func(res *ferry.ChecksumResult, s ferry.Served) { res.Served = s },
		detach: func() func(context.Context, ferry.Processor) (*ferry.ChecksumResult, error) {
			own := req
			own.Data = append([]byte(nil), req.Data...)
			own.Algorithms = append([]ferry.Algorithm(nil), req.Algorithms...)
			if req.File != nil {
				own.Data = nil
				file, err := dupFile(req.File)
				own.File = file
				return func(ctx context.Context, p ferry.Processor) (*ferry.ChecksumResult, error) {
					if err != nil {
						return nil, err
					}
					defer file.Close()
					return p.Checksum(ctx, own)
				}
			}
			return func(ctx context.Context, p ferry.Processor) (*ferry.ChecksumResult, error) {
				return p.Checksum(ctx, own)
			}
		},
		snapshot: func(res *ferry.ChecksumResult) *ferry.ChecksumResult {
			own := &ferry.ChecksumResult{Digests: make(map[ferry.Algorithm][]byte, len(res.Digests)), Served: res.Served}
			for a, d := range res.Digests {
				own.Digests[a] = append([]byte(nil), d...)
			}
			return own
		},
		compare: compareChecksums,
	})
}

// routedOp is one operation as the router sees it: how to run it on a path, and what shadow
// mode needs to compare it.
type routedOp[T any] struct {
	op  string
	key string
	// toRust is RouteAuto's decision for this request: whether the table says the daemon is faster.
	toRust    func(*costRoutes) bool
	run       func(context.Context, ferry.Processor) (T, error)
	setServed func(T, ferry.Served)
	// detach returns run over a private copy of the request, and snapshot a private copy of a
	// result: a shadow comparison outlives the call, and the caller owns its request and result.
	detach   func() func(context.Context, ferry.Processor) (T, error)
	snapshot func(T) T
	// compare says whether two successful results agree, and if not, how they differ.
	compare func(primary, shadow T) (bool, string)
	// formats and withFormats, for ops with output formats (resize): the requested formats (one
	// per output, the protocol default filled in), and run with some of them replaced
	// (WithFallbackFormat; formats not in the map stay).
	formats     func() []ferry.Format
	withFormats func(instead map[ferry.Format]ferry.Format) func(context.Context, ferry.Processor) (T, error)
	// notOnGo, for ops whose input the Go path may not read (resize: HEIC), is the Go
	// Processor's word on this request (goServer), nil when it serves it or cannot say.
	notOnGo func(goPath ferry.Processor) error
}

// goServer is a Go Processor that can tell, from the input's header, a request it does not
// serve (goproc.Processor.Serves, an error matching goproc.ErrNotOnGoPath): such a request is not
// sent to Go when the daemon can take it, as if WithoutFallback named its format.
type goServer interface {
	Serves(req *ferry.ResizeRequest) error
}

// decision is where policy sends one request.
type decision struct {
	path   ferry.Path
	reason ferry.Reason
	shadow bool
}

func (r *Router) decide(key string, toRust func(*costRoutes) bool) decision {
	p := r.Policy()
	switch p.Mode {
	case RouteAuto:
		if toRust(r.cfg.routes) {
			return decision{path: ferry.PathRust, reason: ReasonCost}
		}
		return decision{path: ferry.PathGo, reason: ReasonCost}
	case RouteGo:
		return decision{path: ferry.PathGo, reason: ReasonKillSwitch}
	case RoutePercentage:
		if keyToRust(key, p.RustPercent) {
			return decision{path: ferry.PathRust, reason: ReasonPercentage}
		}
		return decision{path: ferry.PathGo, reason: ReasonPercentage}
	case RouteShadow:
		return decision{path: p.ShadowPrimary, reason: ReasonShadow, shadow: true}
	}
	return decision{path: ferry.PathRust, reason: ReasonPolicy}
}

// route runs one request: the path policy chose, a fallback if the daemon fails, the record of
// what served it, and in shadow mode the comparison with the other path. Every error it returns
// is a *Error.
func route[T any](r *Router, ctx context.Context, o *routedOp[T]) (T, error) {
	start := r.cfg.now()
	d := r.decide(o.key, o.toRust)
	var res T
	var err error
	if d.path == ferry.PathGo && !d.shadow && d.reason != ReasonKillSwitch && o.notOnGo != nil && o.notOnGo(r.goPath) != nil {
		// The Go share of percentage or auto routing, for an input only the daemon reads.
		d.path = ferry.PathRust
	}
	served := ferry.Served{Path: d.path, Reason: d.reason}
	if d.path == ferry.PathRust {
		res, served, err = tryRust(r, ctx, o, d.reason)
	} else {
		res, err = onGo(r, ctx, o, d.reason, !d.shadow)
	}
	if err == nil {
		o.setServed(res, served)
	}
	r.obs.Request(o.op, served, err, r.cfg.now().Sub(start))
	if d.shadow && served.Reason == ReasonShadow && (err == nil || ferry.IsInvalidInput(err)) {
		startShadow(r, ctx, o, served.Path, res, err)
	}
	return res, routeError(err, served, 0)
}

// rustContext is the context of a daemon attempt: the caller's own deadline when it has one (the
// daemon gets all of it; no share is kept back for a fallback, which an overloaded host could
// not run in time anyway), else the router's rust timeout; and it ends with errBreakerOpened
// when the breaker opens meanwhile, so that a call waiting on a daemon judged broken (a dial
// to a stopped daemon waits up to the Client's dial timeout) goes to Go with the time it has
// left.
func (r *Router) rustContext(ctx context.Context) (context.Context, context.CancelFunc) {
	outer := context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		ctx, outer = context.WithTimeout(ctx, r.cfg.rustTimeout)
	}
	actx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(r.closedBreaker.Load().ctx, func() { cancel(errBreakerOpened) })
	return actx, func() {
		stop()
		cancel(nil)
		outer()
	}
}

// attempt runs o on one path and times it.
func attempt[T any](r *Router, ctx context.Context, o *routedOp[T], path ferry.Path, p ferry.Processor) (T, error) {
	start := r.cfg.now()
	res, err := o.run(ctx, p)
	r.obs.Attempt(o.op, path, err, r.cfg.now().Sub(start))
	return res, err
}
