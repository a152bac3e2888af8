package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// formatsReport is what -formats-only writes to formats.json: the section and where it ran.
type formatsReport struct {
	Started time.Time       `json:"started"`
	Short   bool            `json:"short"`
	Corpus  string          `json:"corpus"`
	Host    host            `json:"host"`
	Formats *formatsResults `json:"formats"`
}

// runFormatsOnly measures the HEIC and AVIF section alone (the daemon, govips built unless
// -short or -govips "", pyvips unless -no-vips) and writes formats.md and formats.json to o.out,
// so that the section can be run and committed without the whole matrix.
func runFormatsOnly(ctx context.Context, o options) error {
	photos, err := loadPhotos(o.corpus)
	if err != nil {
		return err
	}
	d, err := openDaemon(o)
	if err != nil {
		return err
	}
	defer d.close()
	rep := formatsReport{Started: time.Now(), Short: o.short, Corpus: publicCorpus(o.corpus), Host: hostFacts()}
	govipsBin, govipsMissing, removeGovips := govipsFor(o)
	defer removeGovips()
	if rep.Formats, err = benchFormats(ctx, d, photos, o.short, o.noVips, govipsBin, govipsMissing, o.log); err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# ferry bench: HEIC and AVIF\n\n")
	if rep.Short {
		w("**Short run** (the test suite's pass): too few runs for the numbers to mean much.\n\n")
	}
	w("%s, %d cores, %s; corpus `%s`; started %s. `ferry-bench -formats-only`, the section of `make bench`'s report measured alone.\n",
		rep.Host.CPU, rep.Host.Cores, rep.Host.Go, rep.Corpus, rep.Started.Format("2006-01-02 15:04 MST"))
	writeFormats(w, rep.Formats)
	for name, data := range map[string][]byte{"formats.json": append(raw, '\n'), "formats.md": []byte(b.String())} {
		if err := os.WriteFile(filepath.Join(o.out, name), data, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("report: %s\n", filepath.Join(o.out, "formats.md"))
	return nil
}
