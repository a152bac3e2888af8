package ferry

import "time"

// Defaults for the Dial options. A zero or negative value passed to an option means "use the
// default", except where an option says otherwise.
const (
	// DefaultPoolSize is the number of connections a Client keeps to the daemon. Each carries any
	// number of requests at once, so a few are enough: more spread the daemon's per-connection
	// reading over its cores, fewer batch more requests per system call.
	DefaultPoolSize = 2
	// DefaultDialTimeout bounds one connection attempt: connect plus the hello handshake. A local
	// daemon answers hello in well under a millisecond; one that accepts but does not answer
	// (stopped, wedged) costs a dial at most this.
	DefaultDialTimeout = time.Second
	// DefaultHangTimeout is the floor of the hang timeout: a connection with requests pending
	// that receives nothing at all for this long, although it pinged the daemon, is suspect;
	// silent for twice this long, it is declared hung and its calls fail at once with
	// ErrNotResponding (and ErrConnectionLost). A live
	// daemon answers a ping within milliseconds even while every worker is busy, so a long job is
	// never mistaken for a hang; on a loaded host the timeout rises above the floor with the
	// measured ping round trips (see WithHangTimeout). A stopped daemon costs a call in flight
	// about twice this long (500 ms) when the host is idle.
	DefaultHangTimeout = 250 * time.Millisecond
	// DefaultMaxHangTimeout caps the adaptive hang timeout and the silence that fails a
	// connection (or twice the floor set with WithHangTimeout, if that is larger): however slow
	// the pings were, a daemon that answers nothing for this long is declared hung.
	DefaultMaxHangTimeout = 5 * time.Second
	// DefaultRedialBackoff is the wait after a failed connection attempt before the next one; it
	// doubles with each further failure up to DefaultMaxRedialBackoff. Calls made while a slot
	// waits fail at once with ErrUnavailable instead of queueing behind a daemon that is down.
	DefaultRedialBackoff = 10 * time.Millisecond
	// DefaultMaxRedialBackoff caps the redial backoff.
	DefaultMaxRedialBackoff = time.Second
	// DefaultClientName is sent in hello for the daemon's logs.
	DefaultClientName = "ferry-go/0.1.0"
)

// inlinePayloadMax is the largest payload copied into the request's own buffer. Larger ones are
// written straight from the caller's slice, which then must not change until the call returns.
const inlinePayloadMax = 64 << 10

// Option configures a Client; pass options to Dial.
type Option func(*config)

type config struct {
	poolSize         int
	dialTimeout      time.Duration
	hangTimeout      time.Duration
	redialBackoff    time.Duration
	maxRedialBackoff time.Duration
	clientName       string
	lazy             bool
	throttleK        float64
	throttleHold     time.Duration
	// throttleNow is the throttle's clock (time.Now when nil); tests set it.
	throttleNow func() time.Time
}

func newConfig(opts []Option) config {
	c := config{}
	for _, o := range opts {
		o(&c)
	}
	if c.poolSize <= 0 {
		c.poolSize = DefaultPoolSize
	}
	if c.dialTimeout <= 0 {
		c.dialTimeout = DefaultDialTimeout
	}
	if c.hangTimeout == 0 {
		c.hangTimeout = DefaultHangTimeout
	}
	if c.redialBackoff <= 0 {
		c.redialBackoff = DefaultRedialBackoff
	}
	if c.maxRedialBackoff <= 0 {
		c.maxRedialBackoff = DefaultMaxRedialBackoff
	}
	if c.maxRedialBackoff < c.redialBackoff {
		c.maxRedialBackoff = c.redialBackoff
	}
	if c.throttleK == 0 {
		c.throttleK = DefaultThrottleK
	}
	if c.throttleHold <= 0 {
		c.throttleHold = DefaultThrottleHold
	}
	if c.clientName == "" {
		c.clientName = DefaultClientName
	}
	return c
}

// WithPoolSize sets the number of connections (DefaultPoolSize when n <= 0).
func WithPoolSize(n int) Option { return func(c *config) { c.poolSize = n } }

// WithDialTimeout bounds each connection attempt, connect plus handshake (DefaultDialTimeout when
// d <= 0). A daemon that accepts but does not answer (stopped, overloaded) costs at most this.
func WithDialTimeout(d time.Duration) Option { return func(c *config) { c.dialTimeout = d } }

// WithHangTimeout sets the floor of the hang timeout: a connection with requests pending that
// stays silent this long, despite a ping, is suspect, and twice this long fails its calls with
// ErrNotResponding (DefaultHangTimeout when d is 0). A negative d turns hang detection off: calls then wait for
// their own context only.
//
// The timeout adapts to the host above that floor: while requests are pending each connection
// pings the daemon every quarter of the timeout, and the timeout is twice TCP's retransmission
// timeout over those round trips (smoothed round trip plus four times its deviation), up to
// DefaultMaxHangTimeout. A host under heavy load, or a daemon under a CPU quota, thus gets a
// longer timeout instead of false ErrNotResponding; Client.HangTimeout reports the value now.
func WithHangTimeout(d time.Duration) Option { return func(c *config) { c.hangTimeout = d } }

// WithRedialBackoff sets the first and the largest wait between failed connection attempts
// (DefaultRedialBackoff and DefaultMaxRedialBackoff when <= 0).
func WithRedialBackoff(first, max time.Duration) Option {
	return func(c *config) { c.redialBackoff, c.maxRedialBackoff = first, max }
}

// WithClientName sets the client name sent in hello (DefaultClientName when empty).
func WithClientName(name string) Option { return func(c *config) { c.clientName = name } }

// WithLazyConnect makes Dial return without connecting: the first call connects. Dial then
// succeeds even when the daemon is down, and ServerInfo is nil until a connection is made. Useful
// for a service that must start whether or not ferryd is up yet.
func WithLazyConnect() Option { return func(c *config) { c.lazy = true } }

// WithThrottle sets the K of the Client's client-side adaptive throttle (DefaultThrottleK when
// k is 0; a negative k turns the throttle off). The throttle (Google's SRE book, "Handling
// Overload"; see Throttle) counts resize and checksum requests and the daemon's accepts (every
// answer but busy) over DefaultThrottleWindow, and refuses a request locally, without sending
// its image, with probability max(0, (requests - k*accepts) / (requests + 1)): a daemon that
// answers busy is sent about k times what it accepts rather than whole images it would refuse.
// A local refusal is held for a jittered DefaultThrottleHold (never past the caller's
// context), then returned as ErrThrottled, which matches ErrBusy: SafeToRetry holds, and
// RetryAfter gives the hint. A service should retry such an error after RetryAfter(err), not
// at once; the hold only keeps a caller that does from spinning.
func WithThrottle(k float64) Option { return func(c *config) { c.throttleK = k } }

// WithThrottleHold sets how long a throttle refusal is held before it is returned, and its
// retry hint (DefaultThrottleHold when d <= 0), jittered by half either way.
func WithThrottleHold(d time.Duration) Option { return func(c *config) { c.throttleHold = d } }
