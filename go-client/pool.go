package ferry

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// slot holds one of the Client's connections and replaces it when it breaks.
//
// A slot dials in a goroutine of its own, bounded by the dial timeout and by Close, so that a
// caller whose ctx ends stops waiting without abandoning the dial for the others waiting on it.
// After a failed dial the slot refuses calls with the dial's error until its backoff has passed,
// so that a daemon that is down costs callers a map lookup, not a connect each.
type slot struct {
	client *Client
	// cur is the current connection, possibly failed; nil before the first successful dial.
	cur atomic.Pointer[conn]

	// mu guards the fields below.
	mu sync.Mutex
	// dialing is non-nil while a dial runs, and closed when it ends.
	dialing  chan struct{}
	failures int
	retryAt  time.Time
	lastErr  error
}

// live returns the slot's connection if it can take requests.
func (s *slot) live() *conn {
	if cn := s.cur.Load(); cn != nil && cn.alive() {
		return cn
	}
	return nil
}

// get returns a live connection, dialing (and waiting for the dial) when there is none.
func (s *slot) get(ctx context.Context) (*conn, error) {
	s.mu.Lock()
	if cn := s.live(); cn != nil {
		s.mu.Unlock()
		return cn, nil
	}
	ch, err := s.startDialLocked()
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case <-ch:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.client.closed:
		return nil, ErrClosed
	}
	if cn := s.live(); cn != nil {
		return cn, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastErr == nil { // dialed, then broke at once
		return nil, ErrUnavailable
	}
	return nil, s.lastErr
}

// redial starts a dial in the background unless one runs or the backoff forbids it.
func (s *slot) redial() {
	s.mu.Lock()
	_, _ = s.startDialLocked()
	s.mu.Unlock()
}

func (s *slot) startDialLocked() (chan struct{}, error) {
	if s.dialing != nil {
		return s.dialing, nil
	}
	if s.client.isClosed() {
		return nil, ErrClosed
	}
	if s.failures > 0 && time.Now().Before(s.retryAt) {
		return nil, s.lastErr
	}
	ch := make(chan struct{})
	s.dialing = ch
	s.client.wg.Add(1)
	go s.dial(ch)
	return ch, nil
}

func (s *slot) dial(done chan struct{}) {
	defer s.client.wg.Done()
	cn, err := s.client.connect(s.client.ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	defer close(done)
	s.dialing = nil
	if err != nil {
		s.failures++
		backoff := s.client.cfg.redialBackoff << min(s.failures-1, 20)
		s.retryAt = time.Now().Add(min(backoff, s.client.cfg.maxRedialBackoff))
		s.lastErr = err
		return
	}
	if s.client.isClosed() { // Close ran while we dialed; it did not see this connection
		cn.close(ErrClosed)
		return
	}
	s.failures, s.lastErr = 0, nil
	s.cur.Store(cn)
	s.client.info.Store(cn.info)
}

// close fails the slot's connection with ErrClosed and waits for its goroutines.
func (s *slot) close() {
	s.mu.Lock()
	cn := s.cur.Load()
	s.mu.Unlock()
	if cn != nil {
		cn.close(ErrClosed)
	}
}
