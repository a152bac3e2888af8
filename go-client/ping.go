package ferry

import (
	"context"

	"github.com/ferryd/ferry/go-client/internal/wire"
)

// Ping asks the daemon for an empty answer: the cheapest round trip, for liveness checks. The
// daemon answers it from the connection's task, without touching its worker pool.
func (c *Client) Ping(ctx context.Context) error {
	req := wire.Request{Header: wire.Header{Op: wire.OpPing}}
	_, err := c.do(ctx, &req)
	return err
}
