package routerprom_test

import (
	"context"
	"log"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/router"
	"github.com/ferryd/ferry/go-client/router/routerprom"

	"github.com/prometheus/client_golang/prometheus"
)

// A service that exports Prometheus metrics registers the router's and hands them to New.
func ExampleNewMetrics() {
	c, err := ferry.Dial(context.Background(), "/run/ferry/ferryd.sock", ferry.WithLazyConnect())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	m := routerprom.NewMetrics()
	prometheus.MustRegister(m)
	r, err := router.New(c, nil, router.WithObserver(m))
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
}
