package router

import (
	"context"
	"errors"
	"testing"
	"time"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/goproc"

	"github.com/ferryd/ferry/go-client/internal/testdaemon"
)

// A Router stands in for a ferry.Client in code written against ferry.Service: Ping and Stats reach the real
// daemon, and report it down while jobs go on through the Go path.
func TestRouterPingAndStatsReachTheDaemon(t *testing.T) {
	d := testdaemon.Start(t)
	r, _ := faultRouter(t, d, BreakerConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var svc ferry.Service = r

	if err := svc.Ping(ctx); err != nil {
		t.Fatalf("Ping with the daemon up: %v", err)
	}
	sum := ferry.ChecksumRequest{Data: []byte("health"), Algorithms: []ferry.Algorithm{ferry.CRC32C}}
	if _, err := svc.Checksum(ctx, sum); err != nil {
		t.Fatal(err)
	}
	st, err := svc.Stats(ctx)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if st.Workers < 1 || st.RequestsByOp["checksum"] < 1 {
		t.Errorf("daemon stats after one checksum: workers %d, by op %v", st.Workers, st.RequestsByOp)
	}

	d.Kill()
	if err := svc.Ping(ctx); err == nil {
		t.Error("Ping returned nil with the daemon killed")
	} else if !errors.Is(err, ferry.ErrUnavailable) && !errors.Is(err, ferry.ErrConnectionLost) {
		t.Errorf("Ping with the daemon killed: %v, want ferry.ErrUnavailable or ErrConnectionLost", err)
	}
	res, err := svc.Checksum(ctx, sum)
	if err != nil || res.Served.Path != ferry.PathGo {
		t.Errorf("checksum with the daemon down: %v, served %+v; want the Go path", err, res)
	}

	if _, err := (&Router{rust: goproc.New()}).Stats(ctx); err == nil {
		t.Error("Stats over a rust ferry.Processor without counters returned no error")
	}
}
