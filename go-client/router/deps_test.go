package router

import (
	"os/exec"
	"strings"
	"testing"
)

// maxDeps bounds what importing package router builds. It was 149 (issue 17's "under 150"; 279
// with Prometheus inside) until issue 22 made the Go path faithful: lossy WebP and AVIF through
// libwebp and libavif compiled to WebAssembly (github.com/gen2brain/webp and /avif) add 51
// packages and drop 2 (nativewebp, container/heap): the wazero runtime (34), purego (3, which
// gen2brain's packages use to try a shared libwebp or libavif first), the two codec packages and
// 12 of the standard library (compress/gzip, debug/elf, debug/pe, embed, ...). 193 with
// -tags nodynamic. The Go path (package goproc) alone is 197 of them, so a new import here, or in
// goproc or ferry, shows up at once.
const maxDeps = 198

func TestImportingRouterCostsWhatRoutingNeeds(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH; cannot count package router's dependencies")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	t.Logf("go list -deps ./router: %d packages", len(deps))
	if len(deps) > maxDeps {
		var outside []string
		for _, d := range deps {
			if first, _, _ := strings.Cut(d, "/"); strings.Contains(first, ".") {
				outside = append(outside, d)
			}
		}
		t.Errorf("package router builds %d packages, want at most %d; outside the standard library: %v", len(deps), maxDeps, outside)
	}
}
