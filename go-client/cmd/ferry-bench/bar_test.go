package main

import "testing"

// The quality line judges the worst photo, ours minus libvips', and skips rows that were not
// measured against a reference (no -reference, or libvips absent).
func TestWorstBelowVipsIsTheLowestMarginOfMeasuredRows(t *testing.T) {
	rows := []thumbRow{
		{Photo: photo{Name: "a.jpg"}, VsFullDecode: vsFullDecode{Default: 50, Fast: 45, Vips: 49}},
		{Photo: photo{Name: "b.jpg"}, VsFullDecode: vsFullDecode{Default: 40, Fast: 30, Vips: 40.3}},
		{Photo: photo{Name: "c.jpg"}, VsFullDecode: vsFullDecode{Default: 20}}, // no libvips figure
	}
	w, ok := worstBelowVips(rows, func(q vsFullDecode) float64 { return q.Default })
	if !ok || w.margin > -0.29 || w.margin < -0.31 {
		t.Fatalf("default: got %+v, %v; want b.jpg at -0.3 dB", w, ok)
	}
	if w, _ := worstBelowVips(rows, func(q vsFullDecode) float64 { return q.Fast }); w.margin > -10.29 || w.margin < -10.31 {
		t.Fatalf("fast: got %+v; want b.jpg at -10.3 dB", w)
	}
	if _, ok := worstBelowVips(rows[2:], func(q vsFullDecode) float64 { return q.Default }); ok {
		t.Fatal("a row without libvips' figure was judged")
	}
	line := barLine{Threshold: -0.5, Unit: "dB"}
	if line.judged(-0.3) != "pass" || line.judged(-0.6) != "miss" {
		t.Fatal("the quality line does not judge at -0.5 dB")
	}
	if (barLine{Figure: true}).judged(-20) != "figure, no target" {
		t.Fatal("a figure line got a verdict")
	}
}
