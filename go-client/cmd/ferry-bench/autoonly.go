package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ferryd/ferry/go-client/router"
)

// runAutoOnly measures the auto section alone and prints it with its bar line. It routes by the
// table in o.costTable, the router's default ("default"), or, when o.costTable is empty, a table
// of checksum cells it measures first on this machine (as a round does; no thumbnails, so
// resizes would go to the daemon).
func runAutoOnly(ctx context.Context, o options) error {
	d, err := openDaemon(o)
	if err != nil {
		return err
	}
	defer d.close()
	res := &results{Started: time.Now(), Short: o.short, Host: hostFacts()}
	var table *router.CostTable
	switch o.costTable {
	case "default":
		table = router.DefaultCostTable()
	case "":
		o.log("checksums, for the table ...")
		if res.Checksums, err = benchChecksums(ctx, d, planFor(o.short)); err != nil {
			return err
		}
		table = costTable(res.Checksums.Cells, res.Checksums.FileCells, nil, "checksum cells measured by this -auto-only run")
	default:
		if table, err = router.LoadCostTable(o.costTable); err != nil {
			return err
		}
	}
	o.log("router policy auto ...")
	if res.Auto, err = benchAuto(ctx, d, planFor(o.short), table); err != nil {
		return err
	}
	var b strings.Builder
	writeAuto(func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }, res)
	for _, l := range judge(res) {
		if strings.HasPrefix(l.Line, "router policy auto") {
			fmt.Fprintf(&b, "\n%s: %s (target %s): %s\n", l.Line, l.format(l.Value), l.Target, l.Verdict)
			fmt.Fprintf(&b, "%s\n", l.Measured)
		}
	}
	fmt.Printf("%s, %d cores, %s; table: %s\n%s", res.Host.CPU, res.Host.Cores, res.Host.Go, table.Source, b.String())
	return nil
}
