package main

import (
	"math"
	"testing"
	"time"
)

// Going first in a pass costs 20% more; auto is 5% slower than its twin. The ABBA ratio sees
// the 5% alone; per-pass ratios would see 1.26 and 0.875 and a median between them.
func TestABBARatioCancelsThePlaceInThePass(t *testing.T) {
	var a, b []time.Duration
	for pass := range 40 {
		first, second := 120*time.Microsecond, 100*time.Microsecond
		if pass%2 == 0 { // auto first
			a, b = append(a, first*105/100), append(b, second)
		} else {
			a, b = append(a, second*105/100), append(b, first)
		}
	}
	if got := abbaRatio(a, b); math.Abs(got-1.05) > 1e-9 {
		t.Fatalf("abbaRatio = %v, want 1.05", got)
	}
	if got := pairedRatio(a, b); math.Abs(got-1.05) < 0.01 {
		t.Fatalf("pairedRatio = %v: the test does not tell the two apart", got)
	}
}
