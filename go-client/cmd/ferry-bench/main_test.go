package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ferry "github.com/ferryd/ferry/go-client"
	"github.com/ferryd/ferry/go-client/internal/echofloor"
	"github.com/ferryd/ferry/go-client/internal/testdaemon"
	"github.com/ferryd/ferry/go-client/router"
)

// TestMain lets this test binary be the harness's echo child too (startEcho re-runs itself).
func TestMain(m *testing.M) {
	echofloor.ServeIfAsked()
	os.Exit(m.Run())
}

// TestShortRun runs the harness's short pass against the real ferryd over the sample photos, so
// the harness cannot rot, and checks the report holds every section with figures in it. The
// numbers themselves are not judged here: timing belongs to benchmarks, not tests.
func TestShortRun(t *testing.T) {
	d := testdaemon.Start(t)
	out := t.TempDir()
	o := options{socket: d.Path(), pid: d.Pid(), corpus: "../../../tests/data/photos", out: out, short: true,
		log: t.Logf}
	if err := run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res results
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Thumbs.Rows) != 3 {
		t.Errorf("%d thumbnail rows, want one per sample photo (3)", len(res.Thumbs.Rows))
	}
	for _, row := range res.Thumbs.Rows {
		if row.Rust.P50 <= 0 || row.Go.P50 <= 0 || row.OutWidth > 400 || row.OutHeight > 400 {
			t.Errorf("%s: %+v", row.Photo.Name, row)
		}
	}
	if want := 3 * len(algorithms); len(res.Checksums.Cells) != want || len(res.Checksums.FileCells) != want {
		t.Errorf("%d checksum cells and %d file cells, want %d each", len(res.Checksums.Cells), len(res.Checksums.FileCells), want)
	}
	if len(res.Sweep.Rust) != 2 || len(res.Sweep.Go) != 2 || res.Sweep.Rust[1].PerSecond <= 0 {
		t.Errorf("sweep: %+v", res.Sweep)
	}
	if res.Ping.Client.P50 <= 0 || res.Ping.RawFloor.P50 <= 0 || res.Ping.Pipelined.Requests == 0 {
		t.Errorf("ping: %+v", res.Ping)
	}
	if res.Memory.OK+res.Memory.Busy != int64(res.Memory.Burst) || res.Memory.PeakKiB <= 0 {
		t.Errorf("memory: %+v", res.Memory)
	}
	if res.Thumbs.RustSumMS > 0 && res.Memory.IdleKiB <= 0 {
		t.Errorf("daemon RSS not read: %+v", res.Memory)
	}
	if want := 3 * len(algorithms); len(res.Auto.Cells) != want {
		t.Errorf("%d auto cells, want %d", len(res.Auto.Cells), want)
	}
	for _, c := range res.Auto.Cells {
		if c.Auto.P50 <= 0 || c.Ratio <= 0 || (c.Path != ferry.PathRust && c.Path != ferry.PathGo) {
			t.Errorf("auto cell %+v", c)
		}
	}
	autoLine := false
	for _, l := range res.Bar {
		if strings.HasPrefix(l.Line, "router policy auto") {
			autoLine = l.Verdict != "not measured" && l.Value > 0 && l.Threshold == 1.05 && l.AtMost
		}
	}
	if !autoLine {
		t.Errorf("the auto bar line is not measured: %+v", res.Bar)
	}
	severalLine := false
	for _, l := range res.Bar {
		if strings.HasPrefix(l.Line, "three sizes from one decode") {
			severalLine = l.Verdict != "not measured" && l.Value > 0 && l.Threshold == 1.4 && l.AtMost
		}
	}
	if !severalLine || len(res.Several.Rows) == 0 || res.Several.GoSeveralSumMS <= 0 {
		t.Errorf("the three-sizes bar line is not measured: %+v, %d rows", res.Bar, len(res.Several.Rows))
	}
	if fc := res.FileChecksum; fc == nil || len(fc.RustGBps) != fdRuns || len(fc.GoGBps) != fdRuns || fc.RustGBps[0] <= 0 {
		t.Errorf("BLAKE3 by descriptor: %+v", fc)
	}
	for _, l := range res.Bar {
		if strings.HasPrefix(l.Line, "BLAKE3 of 64 MiB by file descriptor") && (l.Verdict == "not measured" || l.Value <= 0) {
			t.Errorf("the file-descriptor bar line is not measured: %+v", l)
		}
	}
	if _, err := router.LoadCostTable(filepath.Join(out, "crossover.json")); err != nil {
		t.Errorf("crossover.json: %v", err)
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	checkFormats(t, res.Formats)
	for _, section := range []string{"## The bar", "## Ping", "## Thumbnails, one at a time", "## Three sizes from one decode", "## Thumbnails at concurrency", "## Checksums", "## Router policy auto", "## Memory", "## HEIC and AVIF"} {
		if !strings.Contains(string(md), section) {
			t.Errorf("report.md lacks %q", section)
		}
	}
	// The report's prose goes through a printf-style writer that vet cannot see: a stray verb or
	// an unescaped percent sign shows up as %!.
	if i := strings.Index(string(md), "%!"); i >= 0 {
		t.Errorf("report.md has a formatting error: %q", md[max(0, i-60):min(len(md), i+20)])
	}
	for _, plot := range []string{"thumbs.svg", "checksums.svg"} {
		svg, err := os.ReadFile(filepath.Join(out, plot))
		if err != nil || !strings.Contains(string(svg), "<rect") && !strings.Contains(string(svg), "<polyline") {
			t.Errorf("%s: %v, %d bytes", plot, err, len(svg))
		}
	}
}

// checkFormats checks the HEIC and AVIF section of a short run (one photo, heif-enc and avifenc
// on PATH): a HEIC and an AVIF input each thumbnailed by ferryd with a PSNR, the Go path refusing
// HEIC as not on the Go path and serving AVIF, and an AVIF and a WebP row written by both paths.
func checkFormats(t *testing.T, fr *formatsResults) {
	t.Helper()
	if fr == nil {
		t.Fatal("no HEIC and AVIF section")
	}
	if missing := formatToolsMissing(); missing != "" {
		// Not silent: the section says so in the report, and so does the test.
		t.Logf("HEIC and AVIF section not measured: %s", missing)
		if fr.Missing == "" {
			t.Errorf("tools missing (%s) but the section does not say so", missing)
		}
		return
	}
	if fr.Missing != "" || len(fr.Decode) != 2 || len(fr.Encode) != 2 || len(fr.Ratios) != 4 {
		t.Fatalf("HEIC and AVIF: missing %q, %d decode rows, %d encode rows, %d ratios", fr.Missing, len(fr.Decode), len(fr.Encode), len(fr.Ratios))
	}
	for _, r := range fr.Decode {
		if !r.Ferryd.measured() || r.Ferryd.Width > 400 || r.Ferryd.Height > 400 || r.Ferryd.PSNR < 35 {
			t.Errorf("%s on ferryd: %+v", r.Input.Name, r.Ferryd)
		}
		switch r.Input.Format {
		case ferry.FormatHEIC:
			if r.Go.measured() || !strings.HasPrefix(r.Go.Missing, "not on the Go path") {
				t.Errorf("%s on the Go path: %+v, want not on the Go path", r.Input.Name, r.Go)
			}
		case ferry.FormatAVIF:
			if !r.Go.measured() || r.Go.PSNR < 35 {
				t.Errorf("%s on the Go path: %+v", r.Input.Name, r.Go)
			}
		}
	}
	for _, r := range fr.Encode {
		for name, f := range map[string]pathFigures{"ferryd": r.Ferryd, "Go path": r.Go} {
			if !f.measured() || f.Bytes == 0 || f.PSNR < 25 {
				t.Errorf("%s as %s on %s: %+v", r.Photo, r.Format, name, f)
			}
		}
	}
}

// TestFormatsOnlyShort runs -formats-only's short pass, which writes formats.md and formats.json.
func TestFormatsOnlyShort(t *testing.T) {
	d := testdaemon.Start(t)
	out := t.TempDir()
	o := options{socket: d.Path(), pid: d.Pid(), corpus: "../../../tests/data/photos", out: out, short: true, log: t.Logf}
	if err := runFormatsOnly(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(out, "formats.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep formatsReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	checkFormats(t, rep.Formats)
	md, err := os.ReadFile(filepath.Join(out, "formats.md"))
	if err != nil || !strings.Contains(string(md), "## HEIC and AVIF") || strings.Contains(string(md), "%!") {
		t.Errorf("formats.md: %v\n%s", err, md)
	}
}
