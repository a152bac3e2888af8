package router

import (
	"sync"
	"time"
)

// BreakerState is the state of the Router's circuit breaker in front of the daemon.
type BreakerState int

const (
	// BreakerClosed: the daemon is healthy; requests routed to Rust go to it.
	BreakerClosed BreakerState = iota
	// BreakerHalfOpen: the cool-down is over (and, when the daemon can be pinged, it answered a
	// ping); a few probe requests go to the daemon, the rest to Go, until the probes decide.
	BreakerHalfOpen
	// BreakerOpen: the daemon failed too often; requests routed to Rust go to Go without trying
	// it, until the cool-down ends.
	BreakerOpen
)

// String returns "closed", "half_open" or "open".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half_open"
	case BreakerOpen:
		return "open"
	}
	return "unknown"
}

// Defaults of BreakerConfig, used where a field is zero.
const (
	// DefaultBreakerConsecutiveFailures opens the breaker after this many daemon failures in a
	// row: a daemon that is down fails every call, so a handful is proof enough.
	DefaultBreakerConsecutiveFailures = 5
	// DefaultBreakerWindow is the span over which the failure rate is measured.
	DefaultBreakerWindow = 10 * time.Second
	// DefaultBreakerMinRequests is the fewest daemon calls in the window before the rate is
	// trusted: 1 failure out of 2 calls says nothing.
	DefaultBreakerMinRequests = 20
	// DefaultBreakerFailureRate opens the breaker when at least this share of the window's calls
	// failed (a daemon that fails intermittently never makes 5 in a row).
	DefaultBreakerFailureRate = 0.5
	// DefaultBreakerOpenFor is the cool-down before each probe. A probe is a ping in the
	// background (no caller waits for it), so probing often is cheap, and a restarted daemon is
	// used again within about this long (plus the Client's redial backoff).
	DefaultBreakerOpenFor = 500 * time.Millisecond
	// DefaultBreakerProbes is how many probes may be in flight at once in half-open, and how
	// many must succeed in a row to close.
	DefaultBreakerProbes = 2
	// DefaultBreakerProbeTimeout bounds the probe's ping when the daemon Processor does not
	// report its own hang timeout (a *ferry.Client reports its adaptive one, HangTimeout, which is
	// used instead, at least MinBreakerProbeTimeout). The ping runs in the background, so no caller
	// waits for it; the bound only decides how soon a silent daemon counts as still down. A fixed
	// 25 ms, as before, failed the first ping after a restart (a new connection's dial and hello
	// on a loaded host) and kept the breaker open for seconds.
	DefaultBreakerProbeTimeout = time.Second
	// MinBreakerProbeTimeout is the least a probe's ping is given, whatever the hang timeout.
	MinBreakerProbeTimeout = 250 * time.Millisecond
)

// BreakerConfig tunes the circuit breaker. Every zero field takes its Default value.
type BreakerConfig struct {
	// ConsecutiveFailures opens the breaker after this many failures in a row.
	ConsecutiveFailures int
	// Window, MinRequests and FailureRate: the breaker also opens when, over the last Window,
	// at least MinRequests daemon calls were made and at least FailureRate of them failed.
	Window      time.Duration
	MinRequests int
	FailureRate float64
	// OpenFor is how long the breaker stays open before it lets probes through.
	OpenFor time.Duration
	// Probes is the number of probes allowed in flight in half-open, and the number of
	// consecutive successful probes that close the breaker. One failed probe reopens it.
	Probes int
	// ProbeTimeout bounds the ping that tests an open breaker's daemon, when the daemon
	// Processor can be pinged (a *ferry.Client can). Zero: the Processor's own HangTimeout() when
	// it has one (at least MinBreakerProbeTimeout), else DefaultBreakerProbeTimeout.
	ProbeTimeout time.Duration
}

func (c BreakerConfig) withDefaults() BreakerConfig {
	if c.ConsecutiveFailures <= 0 {
		c.ConsecutiveFailures = DefaultBreakerConsecutiveFailures
	}
	if c.Window <= 0 {
		c.Window = DefaultBreakerWindow
	}
	if c.MinRequests <= 0 {
		c.MinRequests = DefaultBreakerMinRequests
	}
	if c.FailureRate <= 0 {
		c.FailureRate = DefaultBreakerFailureRate
	}
	if c.OpenFor <= 0 {
		c.OpenFor = DefaultBreakerOpenFor
	}
	if c.Probes <= 0 {
		c.Probes = DefaultBreakerProbes
	}
	return c
}

// breakerBuckets is how finely the window is sliced: the rate forgets old calls one tenth of the
// window at a time.
const breakerBuckets = 10

// breaker is a circuit breaker: closed, open on consecutive failures or a failure rate over a
// sliding window, half-open after a cool-down with a bounded number of probes, closed again
// after enough successful probes. With pingFirst, the cool-down's end does not open the way by
// itself: a ping must answer first (claimPing, pingDone), so no caller's request is sent to a
// daemon that is still stopped. It is safe for concurrent use.
type breaker struct {
	cfg       BreakerConfig
	now       func() time.Time
	pingFirst bool
	// onChange is called (outside the lock) on every state transition.
	onChange func(from, to BreakerState)

	mu          sync.Mutex
	state       BreakerState
	openedAt    time.Time
	consecutive int // failures in a row while closed
	// generation changes on every transition, so that the outcome of a call admitted under an
	// earlier state (say, a slow call that started before the breaker opened) does not count
	// against the current one.
	generation uint64
	// pinging is set while a ping tests the daemon of an open breaker (pingFirst).
	pinging bool
	// failures counts the failures recorded, ever.
	failures uint64
	// probesInFlight and probeSuccesses count half-open probes.
	probesInFlight int
	probeSuccesses int
	// buckets is the sliding window: calls and failures per slice of cfg.Window/breakerBuckets.
	buckets [breakerBuckets]struct {
		start           time.Time
		calls, failures int
	}
}

// permit is the breaker's admission of one daemon call; report its outcome with record.
type permit struct {
	generation uint64
	probe      bool
	// seq is the breaker's failure count when the call was admitted: a call that fails by the
	// same event as an earlier one (see recordLost) was admitted before that failure.
	seq uint64
}

func newBreaker(cfg BreakerConfig, now func() time.Time, onChange func(from, to BreakerState), pingFirst bool) *breaker {
	if now == nil {
		now = time.Now
	}
	if onChange == nil {
		onChange = func(BreakerState, BreakerState) {}
	}
	return &breaker{cfg: cfg.withDefaults(), now: now, onChange: onChange, pingFirst: pingFirst}
}

// State returns the current state, moving from open to half-open if the cool-down is over.
func (b *breaker) State() BreakerState {
	b.mu.Lock()
	from, to := b.advanceLocked()
	st := b.state
	b.mu.Unlock()
	b.notify(from, to)
	return st
}

// allow asks whether a call may go to the daemon now. When it may, the returned permit must be
// passed to record (or release) exactly once.
func (b *breaker) allow() (permit, bool) {
	b.mu.Lock()
	from, to := b.advanceLocked()
	p, ok := permit{generation: b.generation, seq: b.failures}, false
	switch b.state {
	case BreakerClosed:
		ok = true
	case BreakerHalfOpen:
		if b.probesInFlight < b.cfg.Probes {
			b.probesInFlight++
			p.probe, ok = true, true
		}
	}
	b.mu.Unlock()
	b.notify(from, to)
	return p, ok
}

// record reports whether the permitted call failed. A failure is a sign that the daemon is
// broken (unavailable, connection lost, not responding, shutting down, internal); a refused
// input is a success. Answers that say nothing about its health (busy, too_large_for_budget, a
// deadline the queue explains, a caller that gave up) are reported with release instead.
func (b *breaker) record(p permit, failed bool) {
	b.mu.Lock()
	var from, to BreakerState = -1, -1
	if failed {
		b.failures++
	}
	if p.generation == b.generation {
		switch b.state {
		case BreakerClosed:
			b.countLocked(failed)
			if failed {
				b.consecutive++
			} else {
				b.consecutive = 0
			}
			if failed && (b.consecutive >= b.cfg.ConsecutiveFailures || b.rateExceededLocked()) {
				from, to = b.transitionLocked(BreakerOpen)
			}
		case BreakerHalfOpen:
			if p.probe {
				b.probesInFlight--
			}
			switch {
			case failed:
				from, to = b.transitionLocked(BreakerOpen)
			case p.probe:
				b.probeSuccesses++
				if b.probeSuccesses >= b.cfg.Probes {
					from, to = b.transitionLocked(BreakerClosed)
				}
			}
		}
	}
	b.mu.Unlock()
	b.notify(from, to)
}

// recordLost reports a call whose connection broke (ferry.ErrConnectionLost, not a hang): all
// the calls in flight on one connection fail together, so one broken connection must not count
// as many failures in a row. It counts as a failure only when no other failure was recorded
// since the call was admitted; otherwise it is released.
func (b *breaker) recordLost(p permit) {
	b.mu.Lock()
	sibling := b.failures != p.seq
	b.mu.Unlock()
	if sibling {
		b.release(p)
		return
	}
	b.record(p, true)
}

// release returns a permit whose call says nothing about the daemon's health (the input was
// refused, or the caller's context ended first): a probe slot is freed without a verdict.
func (b *breaker) release(p permit) {
	b.mu.Lock()
	if p.generation == b.generation && p.probe && b.state == BreakerHalfOpen {
		b.probesInFlight--
	}
	b.mu.Unlock()
}

// claimPing reports whether the caller should ping the daemon now: the breaker is open, its
// cool-down is over and no other ping is in flight. The caller must then call pingDone.
func (b *breaker) claimPing() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.pingFirst || b.state != BreakerOpen || b.pinging || b.now().Before(b.openedAt.Add(b.cfg.OpenFor)) {
		return false
	}
	b.pinging = true
	return true
}

// pingDone reports a claimed ping's outcome: an answer lets probe requests through
// (half-open); silence or an error starts another cool-down.
func (b *breaker) pingDone(ok bool) {
	b.mu.Lock()
	var from, to BreakerState = -1, -1
	b.pinging = false
	if b.state == BreakerOpen {
		if ok {
			from, to = b.transitionLocked(BreakerHalfOpen)
		} else {
			b.openedAt = b.now()
		}
	}
	b.mu.Unlock()
	b.notify(from, to)
}

// retryIn is how long until an open breaker next tests the daemon (0 when it is not open or
// the cool-down is over).
func (b *breaker) retryIn() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state != BreakerOpen {
		return 0
	}
	return max(0, b.openedAt.Add(b.cfg.OpenFor).Sub(b.now()))
}

// advanceLocked moves an open breaker whose cool-down is over to half-open (unless a ping must
// answer first).
func (b *breaker) advanceLocked() (BreakerState, BreakerState) {
	if b.state == BreakerOpen && !b.pingFirst && !b.now().Before(b.openedAt.Add(b.cfg.OpenFor)) {
		return b.transitionLocked(BreakerHalfOpen)
	}
	return -1, -1
}

func (b *breaker) transitionLocked(to BreakerState) (BreakerState, BreakerState) {
	from := b.state
	b.state = to
	b.generation++
	b.consecutive = 0
	b.probesInFlight, b.probeSuccesses = 0, 0
	switch to {
	case BreakerOpen:
		b.openedAt = b.now()
	case BreakerClosed:
		// A fresh start: the failures that opened the breaker must not reopen it at once.
		for i := range b.buckets {
			b.buckets[i].calls, b.buckets[i].failures = 0, 0
		}
	}
	return from, to
}

func (b *breaker) notify(from, to BreakerState) {
	if to >= 0 && from != to {
		b.onChange(from, to)
	}
}

// countLocked adds one call to the current bucket of the sliding window.
func (b *breaker) countLocked(failed bool) {
	width := b.cfg.Window / breakerBuckets
	now := b.now()
	start := now.Truncate(width)
	i := int(start.UnixNano()/int64(width)) % breakerBuckets
	if i < 0 {
		i += breakerBuckets
	}
	bk := &b.buckets[i]
	if !bk.start.Equal(start) {
		bk.start, bk.calls, bk.failures = start, 0, 0
	}
	bk.calls++
	if failed {
		bk.failures++
	}
}

// rateExceededLocked reports whether the window holds enough calls with a high enough share of
// failures.
func (b *breaker) rateExceededLocked() bool {
	oldest := b.now().Add(-b.cfg.Window)
	calls, failures := 0, 0
	for _, bk := range b.buckets {
		if bk.start.After(oldest) {
			calls += bk.calls
			failures += bk.failures
		}
	}
	return calls >= b.cfg.MinRequests && float64(failures) >= b.cfg.FailureRate*float64(calls)
}
