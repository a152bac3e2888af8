//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// busyHist is the daemon's ferryd_busy_answer_seconds histogram (a request's frame read whole
// to its busy reply written): cumulative counts by upper bound, in seconds.
type busyHist struct {
	Bounds []float64 `json:"bounds,omitempty"`
	Counts []float64 `json:"counts,omitempty"`
}

// busyMetric is the daemon's histogram of its own busy answer time.
const busyMetric = "ferryd_busy_answer_seconds_bucket"

// scrapeBusy reads the daemon's busy-answer histogram from its metrics socket.
func scrapeBusy(metricsSocket string) (busyHist, error) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", metricsSocket)
		},
	}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://ferryd/metrics")
	if err != nil {
		return busyHist{}, err
	}
	defer resp.Body.Close()
	var h busyHist
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, busyMetric+"{") {
			continue
		}
		le, rest, ok := strings.Cut(strings.TrimPrefix(line, busyMetric+`{le="`), `"} `)
		if !ok {
			return busyHist{}, fmt.Errorf("unreadable line %q", line)
		}
		bound, err1 := strconv.ParseFloat(le, 64)
		count, err2 := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		if le == "+Inf" {
			bound, err1 = math.Inf(1), nil
		}
		if err1 != nil || err2 != nil {
			return busyHist{}, fmt.Errorf("unreadable line %q", line)
		}
		h.Bounds, h.Counts = append(h.Bounds, bound), append(h.Counts, count)
	}
	if err := sc.Err(); err != nil {
		return busyHist{}, err
	}
	if len(h.Bounds) == 0 {
		return busyHist{}, fmt.Errorf("no %s in the daemon's metrics", busyMetric)
	}
	sort.Sort(byBound(h))
	return h, nil
}

type byBound busyHist

func (b byBound) Len() int           { return len(b.Bounds) }
func (b byBound) Less(i, j int) bool { return b.Bounds[i] < b.Bounds[j] }
func (b byBound) Swap(i, j int) {
	b.Bounds[i], b.Bounds[j] = b.Bounds[j], b.Bounds[i]
	b.Counts[i], b.Counts[j] = b.Counts[j], b.Counts[i]
}

// since is h minus an earlier scrape of the same daemon (a cell's own answers).
func (h busyHist) since(earlier busyHist) busyHist {
	if len(earlier.Counts) != len(h.Counts) {
		return h
	}
	d := busyHist{Bounds: h.Bounds, Counts: make([]float64, len(h.Counts))}
	for i := range h.Counts {
		d.Counts[i] = h.Counts[i] - earlier.Counts[i]
	}
	return d
}

// total is the number of busy answers counted.
func (h busyHist) total() int {
	if len(h.Counts) == 0 {
		return 0
	}
	return int(h.Counts[len(h.Counts)-1])
}

// quantile is the upper bound of the bucket holding the q-th quantile (0 < q <= 1): the
// quantile is at most this; 0 when there is no answer, +Inf past the last finite bound.
func (h busyHist) quantile(q float64) time.Duration {
	n := h.total()
	if n == 0 {
		return 0
	}
	rank := math.Ceil(q * float64(n))
	for i, c := range h.Counts {
		if c >= rank {
			if math.IsInf(h.Bounds[i], 1) {
				return time.Duration(math.MaxInt64)
			}
			return time.Duration(h.Bounds[i] * float64(time.Second))
		}
	}
	return time.Duration(math.MaxInt64)
}
