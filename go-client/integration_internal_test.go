package ferry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ferryd/ferry/go-client/internal/wire"
)

// Daemon error codes that the public API never provokes (it does not send expired budgets or
// unknown ops), sent through the client's own machinery to check how their replies come back.
func TestDaemonCodesThroughClient(t *testing.T) {
	_, c := startClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// timeout_ms 0: expired on arrival, the job never starts.
	req := wire.Request{Header: wire.Header{Op: wire.OpChecksum, HasTimeout: true},
		Checksum: wire.ChecksumRequest{Data: []byte("x"), Algorithms: []string{"crc32c"}}}
	_, err := c.doRaw(ctx, &req)
	if !errors.Is(err, ErrDeadlineExceeded) {
		t.Fatalf("timeout_ms 0: %v, want ErrDeadlineExceeded", err)
	}

	req = wire.Request{Header: wire.Header{Op: "transmogrify"}}
	_, err = c.doRaw(ctx, &req)
	var se *ServerError
	if !errors.As(err, &se) || se.Code != CodeUnknownOp || !IsInvalidInput(err) {
		t.Fatalf("unknown op: %v", err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// doRaw sends a prepared wire request with the timeout it carries (do would replace it from ctx).
func (c *Client) doRaw(ctx context.Context, req *wire.Request) (*call, error) {
	cn, err := c.pick(ctx)
	if err != nil {
		return nil, err
	}
	cl, err := c.send(ctx, cn, req, nil, nil)
	if err != nil {
		return nil, err
	}
	return c.wait(ctx, cn, cl)
}
