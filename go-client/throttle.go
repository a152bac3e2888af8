package ferry

import (
	"sync"
	"time"
)

// Defaults of ThrottleConfig, for the Client's throttle (WithThrottle) and the router's.
const (
	// DefaultThrottleK is the throttle's K: requests are refused locally once they outnumber K
	// times the daemon's accepts over the window. 2 lets through twice what the daemon takes, so
	// its queue never runs dry while the throttle holds back the rest (Google's SRE book,
	// "Handling Overload"; lower K is more aggressive).
	DefaultThrottleK = 2.0
	// DefaultThrottleWindow is the span over which requests and accepts are counted. The book
	// counts two minutes of a remote backend's traffic; the daemon is local and its queue drains
	// within its --max-queue-wait (2 s by default), so older counts say nothing about it. The
	// window also sets how soon the throttle releases once the daemon accepts again: about one
	// to two windows (a fluid model of 64 times the daemon's capacity: p < 0.05 about 20 s after
	// the overload ends with 10 s, several minutes with two minutes).
	DefaultThrottleWindow = 10 * time.Second
	// DefaultThrottleMaxReject caps the refusal probability: at least 5% of the requests still
	// reach the daemon. Without a cap, a daemon that answered busy to everything would be sent
	// almost nothing, and the few accepts it then gives could not bring the probability down
	// before the busy answers left the window.
	DefaultThrottleMaxReject = 0.95
	// DefaultThrottleHold is how long the Client holds a request its throttle refused (jittered
	// by half either way, and never past the caller's context) before returning ErrThrottled,
	// and the retry hint it carries (RetryAfter). A local refusal costs nothing to make: a
	// caller that retries at once would otherwise spin on the cores the daemon needs. About the
	// time the daemon takes to answer one small job, so a retrying caller asks again about as
	// often as the daemon can take new work.
	DefaultThrottleHold = 50 * time.Millisecond
)

// ThrottleConfig tunes a client-side throttle. Zero fields take their defaults.
type ThrottleConfig struct {
	// K: see DefaultThrottleK. A negative K turns the throttle off.
	K float64
	// Window: see DefaultThrottleWindow.
	Window time.Duration
	// MaxReject: see DefaultThrottleMaxReject.
	MaxReject float64
}

func (c ThrottleConfig) withDefaults() ThrottleConfig {
	if c.K == 0 {
		c.K = DefaultThrottleK
	}
	if c.Window <= 0 {
		c.Window = DefaultThrottleWindow
	}
	if !(c.MaxReject > 0 && c.MaxReject <= 1) {
		c.MaxReject = DefaultThrottleMaxReject
	}
	return c
}

// throttleBuckets slices the window: old counts leave it a twelfth of the window at a time.
const throttleBuckets = 12

// Throttle is the client-side adaptive throttle of Google's SRE book ("Handling Overload"): it
// counts the requests meant for the daemon (those it refuses included) and the daemon's accepts
// (every answer but busy) over a sliding window, and refuses a request locally with probability
// max(0, (requests - K*accepts) / (requests + 1)), at most MaxReject. A daemon that answers busy
// to most requests is then sent about K times what it accepts, instead of whole images it will
// refuse; when it accepts again, the probability falls back to 0. The Client runs one (see
// WithThrottle; Client.Throttle), and package router runs the same type. It is safe for
// concurrent use.
type Throttle struct {
	cfg ThrottleConfig
	now func() time.Time
	// onChange is called (outside the lock) when the throttle starts or stops refusing, at
	// most once per second (a probability hovering about 0 would otherwise flood the log).
	onChange func(engaged bool, p float64)

	mu       sync.Mutex
	engaged  bool
	reported time.Time // when onChange was last called
	buckets  [throttleBuckets]throttleBucket
}

type throttleBucket struct {
	start             time.Time
	requests, accepts float64
}

// NewThrottle returns a throttle. now is its clock (time.Now when nil); onChange, when not nil,
// is told when it starts or stops refusing (at most once a second), for a log line.
func NewThrottle(cfg ThrottleConfig, now func() time.Time, onChange func(engaged bool, p float64)) *Throttle {
	if now == nil {
		now = time.Now
	}
	if onChange == nil {
		onChange = func(bool, float64) {}
	}
	return &Throttle{cfg: cfg.withDefaults(), now: now, onChange: onChange}
}

// Off reports whether the throttle was configured off (K < 0): it then admits everything.
func (t *Throttle) Off() bool { return t.cfg.K < 0 }

// Admit decides one request: false means refuse it locally (it is counted then); an admitted
// request is counted when its answer comes (Done). p is the refusal probability it was decided
// with. Counting admitted requests only once answered keeps requests in flight out of the
// ratio: a burst of calls into an empty window would otherwise read as requests without
// accepts and be refused.
func (t *Throttle) Admit() (ok bool, p float64) {
	if t.cfg.K < 0 {
		return true, 0
	}
	t.mu.Lock()
	now := t.now()
	requests, accepts := t.sumLocked(now)
	p = t.probabilityOf(requests, accepts)
	ok = p == 0 || randFloat() >= p
	if !ok {
		t.bucketLocked(now).requests++
	}
	changed := (p > 0) != t.engaged && now.Sub(t.reported) >= time.Second
	if changed {
		t.engaged, t.reported = p > 0, now
	}
	t.mu.Unlock()
	if changed {
		t.onChange(p > 0, p)
	}
	return ok, p
}

// Done counts one admitted request, answered: accepted is any answer but busy.
func (t *Throttle) Done(accepted bool) {
	if t.cfg.K < 0 {
		return
	}
	t.mu.Lock()
	b := t.bucketLocked(t.now())
	b.requests++
	if accepted {
		b.accepts++
	}
	t.mu.Unlock()
}

// refusedLately reports whether the window holds a request the daemon did not accept (busy) or
// the throttle refused: the daemon is, or was just now, overloaded.
func (t *Throttle) refusedLately() bool {
	if t.cfg.K < 0 {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	requests, accepts := t.sumLocked(t.now())
	return requests > accepts
}

// Probability is the refusal probability now (0 when off).
func (t *Throttle) Probability() float64 {
	if t.cfg.K < 0 {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.probabilityOf(t.sumLocked(t.now()))
}

// probabilityOf is the book's max(0, (requests - K*accepts) / (requests + 1)), capped at
// MaxReject.
func (t *Throttle) probabilityOf(requests, accepts float64) float64 {
	return min(t.cfg.MaxReject, max(0, (requests-t.cfg.K*accepts)/(requests+1)))
}

func (t *Throttle) bucketLocked(now time.Time) *throttleBucket {
	width := t.cfg.Window / throttleBuckets
	start := now.Truncate(width)
	i := int(start.UnixNano()/int64(width)) % throttleBuckets
	if i < 0 {
		i += throttleBuckets
	}
	b := &t.buckets[i]
	if !b.start.Equal(start) {
		b.start, b.requests, b.accepts = start, 0, 0
	}
	return b
}

func (t *Throttle) sumLocked(now time.Time) (requests, accepts float64) {
	oldest := now.Add(-t.cfg.Window)
	for _, b := range t.buckets {
		if b.start.After(oldest) {
			requests += b.requests
			accepts += b.accepts
		}
	}
	return requests, accepts
}
