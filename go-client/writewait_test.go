package ferry

import (
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferryd/ferry/go-client/internal/wire"
)

// A Client never has more jobs outstanding than the daemon's queue_jobs: the daemon would answer
// the rest busy, after they had waited in a connection's queue behind everyone's images. The
// rest are refused locally at once (ErrThrottled, matching ErrBusy, with a hint), and the bound
// frees as answers come. WithThrottle(-1) lifts it with the rest of the throttle.
func TestClientOutstandingJobsBoundedByQueueJobs(t *testing.T) {
	s, release, jobs := tokenFake(t, 4)
	c := dialFake(t, s, WithThrottleHold(time.Millisecond))
	const callers = 10
	var wg sync.WaitGroup
	var local, served atomic.Int64
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Checksum(testCtx(t), throttleSum)
			switch {
			case err == nil:
				served.Add(1)
			case errors.Is(err, ErrThrottled) && errors.Is(err, ErrBusy) && RetryAfter(err) > 0 &&
				strings.Contains(err.Error(), "queue_jobs"):
				local.Add(1)
			default:
				t.Errorf("%d callers, queue_jobs 4: %v", callers, err)
			}
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for local.Load() < callers-4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := jobs.Load(); got != 4 || local.Load() != callers-4 {
		t.Fatalf("%d callers, queue_jobs 4: %d reached the daemon, %d refused locally; want 4 and %d", callers, got, local.Load(), callers-4)
	}
	close(release)
	wg.Wait()
	if served.Load() != 4 {
		t.Fatalf("%d of the 4 jobs sent were served", served.Load())
	}
	for range 20 {
		if _, err := c.Checksum(testCtx(t), throttleSum); err != nil {
			t.Fatalf("after the answers came: %v", err)
		}
	}

	s2, release2, jobs2 := tokenFake(t, 4)
	off := dialFake(t, s2, WithThrottle(-1))
	var wg2 sync.WaitGroup
	for range callers {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			if _, err := off.Checksum(testCtx(t), throttleSum); err != nil {
				t.Errorf("throttle off: %v", err)
			}
		}()
	}
	for jobs2.Load() < callers && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(release2)
	wg2.Wait()
	if jobs2.Load() != callers {
		t.Errorf("throttle off: %d of %d jobs reached the daemon", jobs2.Load(), callers)
	}
}

// While the daemon answers busy, a job frame is not queued behind more than
// DefaultThrottleWriteWait of other frames' writing on its connection: it goes to another
// connection with room, else it is refused locally at once. While the daemon accepts, it queues.
func TestClientWriteWaitBound(t *testing.T) {
	s, busy, jobs := busyFake(t)
	c := dialFake(t, s, WithPoolSize(1), WithThrottleHold(time.Millisecond))

	// The writer measures its rate from the frames it writes, and uncounts them once written.
	for range 4 {
		if _, err := c.Checksum(testCtx(t), ChecksumRequest{Data: make([]byte, 1<<20), Algorithms: []Algorithm{CRC32C}}); err != nil {
			t.Fatal(err)
		}
	}
	cn := c.slots[0].live()
	if rate := math.Float64frombits(cn.nsPerByte.Load()); rate <= 0 || cn.unwritten.Load() != 0 {
		t.Fatalf("after 4 frames of 1 MiB: %v ns a byte, %d bytes unwritten", rate, cn.unwritten.Load())
	}

	// 40 ms of frames ahead, by the measured rate.
	cn.nsPerByte.Store(math.Float64bits(1))
	cn.unwritten.Store(int64(40 * time.Millisecond))
	if w := cn.writeWait(); w != 40*time.Millisecond {
		t.Fatalf("writeWait %v, want 40ms", w)
	}
	before := jobs.Load()
	if _, err := c.Checksum(testCtx(t), throttleSum); err != nil {
		t.Fatalf("the daemon accepts: a frame queues whatever is ahead of it, got %v", err)
	}
	if jobs.Load() != before+1 {
		t.Fatal("the daemon accepts, yet the frame was not sent")
	}

	busy.Store(true)
	if _, err := c.Checksum(testCtx(t), throttleSum); !errors.Is(err, ErrBusy) || errors.Is(err, ErrThrottled) {
		t.Fatalf("the daemon's busy answer: %v", err)
	}
	before = jobs.Load()
	_, err := c.Checksum(testCtx(t), throttleSum)
	if !errors.Is(err, ErrThrottled) || !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "frames ahead") {
		t.Fatalf("40 ms of frames ahead while the daemon answers busy: %v", err)
	}
	if jobs.Load() != before {
		t.Fatal("the refused frame was sent")
	}
	// Ping is no job: it is never held back.
	if err := c.Ping(testCtx(t)); err != nil {
		t.Fatalf("ping: %v", err)
	}
	cn.unwritten.Store(int64(10 * time.Millisecond))
	if _, err := c.Checksum(testCtx(t), throttleSum); errors.Is(err, ErrThrottled) && strings.Contains(err.Error(), "frames ahead") {
		t.Fatalf("10 ms of frames ahead: refused for the queue: %v", err)
	}
	cn.unwritten.Store(0)
}

// tokenFake is a fake daemon holding queue_jobs jobs at most on 2 workers, which answers one
// checksum per token sent on tokens (all of them, waiting and to come, once tokens is closed),
// and counts the checksum requests that reached it.
func tokenFake(t *testing.T, queueJobs uint64) (s *fakeServer, tokens chan struct{}, jobs *atomic.Int64) {
	tokens, jobs = make(chan struct{}), new(atomic.Int64)
	s = newFakeServer(t, func(fc *fakeConn, req wire.Request) {
		if req.Op != wire.OpChecksum {
			defaultHandle(fc, req)
			return
		}
		jobs.Add(1)
		go func() {
			<-tokens
			fc.reply(req.Op, checksumReply(req))
		}()
	})
	s.hello.QueueJobs, s.hello.Workers = queueJobs, 2
	return s, tokens, jobs
}

// While more of a Client's calls want the daemon than its queue_jobs, the Client keeps half of
// queue_jobs outstanding instead (a full queue only makes each job wait longer); once the demand
// fits in queue_jobs again, queue_jobs is the bound.
func TestClientOutstandingTightensWhileDemandExceedsTheQueue(t *testing.T) {
	s, tokens, jobs := tokenFake(t, 32)
	c := dialFake(t, s, WithThrottleHold(time.Second)) // each refusal held 0.5 to 1.5 s
	results := make(chan error, 128)
	call := func(n int) {
		for range n {
			go func() {
				_, err := c.Checksum(testCtx(t), throttleSum)
				results <- err
			}()
		}
	}
	collect := func(n int) (served, refused int) {
		for range n {
			switch err := <-results; {
			case err == nil:
				served++
			case errors.Is(err, ErrThrottled) && strings.Contains(err.Error(), "queue_jobs"):
				refused++
			default:
				t.Fatalf("unexpected answer: %v", err)
			}
		}
		return served, refused
	}
	until := func(what string, ok func() bool) {
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d jobs reached the daemon, %d outstanding, %d holding", what,
					jobs.Load(), c.outstanding.Load(), c.holding.Load())
			}
		}
	}

	call(60)
	until("60 callers, queue_jobs 32", func() bool { return jobs.Load() == 32 && c.holding.Load() == 28 })
	for range 10 {
		tokens <- struct{}{}
	}
	if served, _ := collect(10); served != 10 {
		t.Fatalf("10 answers sent, %d served", served)
	}
	// 22 outstanding and 28 holding: 50 calls want a queue of 32, so the bound is 16.
	call(5)
	until("5 more while 50 want the daemon", func() bool { return c.holding.Load() == 33 })
	if got := jobs.Load(); got != 32 {
		t.Fatalf("with 22 jobs outstanding and more calls than queue_jobs, %d more reached the daemon; want none", got-32)
	}
	for range 22 {
		tokens <- struct{}{}
	}
	if served, refused := collect(22 + 28 + 5); served != 22 || refused != 33 {
		t.Fatalf("served %d, refused %d; want 22 and 33", served, refused)
	}

	// Nothing outstanding or held: 20 calls fit in queue_jobs and all reach the daemon.
	call(20)
	until("20 callers after the overload", func() bool { return jobs.Load() == 52 })
	for range 20 {
		tokens <- struct{}{}
	}
	if served, _ := collect(20); served != 20 {
		t.Fatalf("20 answers sent, %d served", served)
	}
}
