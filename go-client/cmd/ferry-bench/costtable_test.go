package main

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ferryd/ferry/go-client/router"
)

// TestDefaultCostTableMatchesTheReport fails when the router's embedded table drifts from the
// bench report it is generated from (run go generate ./router after a new report).
func TestDefaultCostTableMatchesTheReport(t *testing.T) {
	out := filepath.Join(t.TempDir(), "crossover.json")
	if err := tableFromReport("../../../benches/report/results.json", out); err != nil {
		t.Fatal(err)
	}
	got, err := router.LoadCostTable(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := router.DefaultCostTable(); !reflect.DeepEqual(got, want) {
		t.Errorf("router's default table is stale: go generate ./router\nfrom the report: %+v\nembedded:        %+v", got, want)
	}
}

func TestCrossover(t *testing.T) {
	for name, tc := range map[string]struct {
		points []point
		want   router.Threshold
	}{
		"socket wins everywhere": {[]point{{100, 1, 2}, {10, 1, 2}}, 0},
		"socket never wins":      {[]point{{10, 2, 1}, {100, 3, 2}}, router.Never},
		"wins only the largest":  {[]point{{10, 2, 1}, {100, 2, 3}}, 55},                // differences +1, -1: halfway
		"a win below a loss":     {[]point{{10, 1, 2}, {100, 3, 2}, {1000, 2, 5}}, 325}, // +1 at 100, -3 at 1000: a quarter of the way
		"a tie counts for Go":    {[]point{{10, 1, 1}, {20, 1, 2}}, 10},
		"nothing measured":       {nil, router.Never},
	} {
		if got := crossover(tc.points); got != tc.want {
			t.Errorf("%s: %d, want %d", name, got, tc.want)
		}
	}
}
