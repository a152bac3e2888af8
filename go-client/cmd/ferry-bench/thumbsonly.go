package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// runThumbsOnly measures the one-at-a-time thumbnails alone (ferryd default and fast, pyvips,
// govips, every path's PSNR against the full-decode references) for o.rounds rounds and prints
// the speed-and-quality section with its bar lines: issue 20's question in minutes instead of a
// whole bench run. Nothing is written to o.out.
func runThumbsOnly(ctx context.Context, o options) error {
	_, serial, err := loadInputs(o)
	if err != nil {
		return err
	}
	d, err := openDaemon(o)
	if err != nil {
		return err
	}
	defer d.close()
	res := &results{Started: time.Now(), Short: o.short, Corpus: publicCorpus(o.corpus), Host: hostFacts()}
	vips, govips := startVips(serial), (*vipsWorker)(nil)
	bin, _, removeGovips := govipsFor(o)
	defer removeGovips()
	if bin != "" {
		govips = startGovips(bin, serial)
	}
	var bars [][]barLine
	for i := range max(1, o.rounds) {
		o.log("round %d of %d: thumbnails, one at a time ...", i+1, o.rounds)
		if res.Thumbs, res.Vips, res.Govips, err = benchThumbsSerial(ctx, d, serial, planFor(o.short), vips, govips, o.reference); err != nil {
			return err
		}
		bars = append(bars, judge(res))
	}
	for _, w := range []*vipsWorker{vips, govips} {
		if w != nil {
			w.close()
		}
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	writeQuality(w, res)
	w("\n")
	for _, l := range combineBars(bars) {
		if strings.HasPrefix(l.Line, "thumbnail") && !strings.Contains(l.Line, "in-process Go") {
			w("- %s: %s (target %s): %s; %s\n", l.Line, l.format(l.Value), l.Target, l.Verdict, l.Measured)
		}
	}
	fmt.Printf("%s, %d cores, %s; %d rounds, last round's table\n%s", res.Host.CPU, res.Host.Cores, res.Host.Go, o.rounds, b.String())
	return nil
}
