package main

// writeQuality is the report's section on issue 20's question: per photo and detail picture,
// the time of ferryd's default and fast modes beside libvips' (pyvips and govips), and every
// path's PSNR against the full decode resized with Lanczos3 straight to the output size.
func writeQuality(w func(string, ...any), r *results) {
	w("\n## Speed and quality against the full decode\n\n")
	if r.Vips == nil {
		w("Not measured: pyvips is not importable.\n")
		return
	}
	w("Fit 400x400, Lanczos3; times are the p50 milliseconds of the one-at-a-time section above (JPEG q80, alternated call by call), ferryd through the socket. PSNR: each path's thumbnail written as lossless PNG (ferryd keeping the ICC profile unapplied, as libvips' thumbnail does) against the reference, the full decode (libjpeg-turbo for JPEG) resized with the `image` crate's Lanczos3 straight to the output size, no shrink-on-load (`cargo bench --bench quality_reference` writes them). The quality contract (SPEC.md 5.3): the default mode no more than 0.5 dB below libvips on any input. Detail pictures are the quality test's painted corpus at 4032x3024, 4:2:0 q90 JPEG.\n\n")
	w("| photo | input | default ms | fast ms | libvips ms | govips ms | libvips / default | libvips / fast | PSNR default | fast | libvips | govips | default - libvips |\n")
	w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var sums [2][4]float64 // photos, detail: default, fast, libvips, govips
	for _, row := range r.Thumbs.Rows {
		v := r.Vips.Rows[row.Photo.Name]
		gv := 0.0
		if r.Govips != nil {
			gv = r.Govips.Rows[row.Photo.Name].P50
		}
		set := 0
		if row.Photo.Detail {
			set = 1
		}
		for i, x := range []float64{row.Rust.P50, row.Fast.P50, v.P50, gv} {
			sums[set][i] += x
		}
		q := row.VsFullDecode
		w("| %s | %dx%d | %.1f | %.1f | %.1f | %.1f | %.2fx | %.2fx | %.2f | %.2f | %.2f | %.2f | %+.2f dB |\n", row.Photo.Name, row.Photo.Width, row.Photo.Height,
			row.Rust.P50, row.Fast.P50, v.P50, gv, v.P50/row.Rust.P50, v.P50/row.Fast.P50, q.Default, q.Fast, q.Vips, q.Govips, q.Default-q.Vips)
	}
	for set, name := range []string{"photos", "detail corpus"} {
		s := sums[set]
		if s[0] == 0 {
			continue
		}
		w("| **sum, %s** | | **%.0f** | **%.0f** | **%.0f** | **%.0f** | **%.2fx** | **%.2fx** | | | | | |\n", name, s[0], s[1], s[2], s[3], s[2]/s[0], s[2]/s[1])
	}
	t := [4]float64{}
	for i := range t {
		t[i] = sums[0][i] + sums[1][i]
	}
	w("| **sum, all** | | **%.0f** | **%.0f** | **%.0f** | **%.0f** | **%.2fx** | **%.2fx** | | | | | |\n", t[0], t[1], t[2], t[3], t[2]/t[0], t[2]/t[1])
}
