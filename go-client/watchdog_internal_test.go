package ferry

import (
	"testing"
	"time"
)

// A silent connection is hung only when the check that sees it runs on time: a check delayed by
// this process's own stall (the timer firing 200 ms late under CPU starvation) must not blame the
// daemon for replies the process has not had the chance to read.
func TestHungOnlyOnAPunctualCheck(t *testing.T) {
	const hang = 250 * time.Millisecond
	ms := func(n int) int64 { return int64(n) * int64(time.Millisecond) }
	for _, c := range []struct {
		name                  string
		now, since, lastCheck int64
		want                  bool
	}{
		{"silent for the whole timeout, checked on time", ms(260), ms(0), ms(200), true},
		{"silent for the whole timeout, this check 200 ms late", ms(473), ms(0), ms(200), false},
		{"silent for the whole timeout, the previous check late, this one on time", ms(535), ms(0), ms(473), true},
		{"silent for half the timeout", ms(130), ms(0), ms(65), false},
		{"bytes moved recently", ms(400), ms(300), ms(340), false},
	} {
		if got := hung(c.now, c.since, c.lastCheck, hang); got != c.want {
			t.Errorf("%s: hung = %v, want %v", c.name, got, c.want)
		}
	}
}
