package router

import (
	"context"
	"fmt"

	ferry "github.com/ferryd/ferry/go-client"
)

// Probe routes one probe (SPEC.md 5.8: what an image is, from its header) by policy, like a
// cheap op: RouteAuto sends it to the Go path, which reads the header in process in
// microseconds, where the daemon would first need the whole image copied through its socket;
// RouteRust, RoutePercentage and RouteShadow treat it as they treat a resize (a daemon failure
// falls back to the Go path). Both paths read the header by the same rules, so every field of
// the result but Memory agrees; Memory is the serving path's own figure (the daemon's admission
// estimate, or the Go path's), and Served says which path that was. A caller that needs the
// daemon's estimate asks the ferry.Client directly.
//
// A Processor given to New that does not implement ferry.Prober answers with an error of
// CodeUnknownOp.
func (r *Router) Probe(ctx context.Context, req ferry.ProbeRequest) (*ferry.ProbeInfo, error) {
	return route(r, ctx, &routedOp[*ferry.ProbeInfo]{
		op:        "probe",
		key:       req.Key,
		toRust:    func(*costRoutes) bool { return false },
		run:       probeOn(req),
		setServed: func(res *ferry.ProbeInfo, s ferry.Served) { res.Served = s },
		detach: func() func(context.Context, ferry.Processor) (*ferry.ProbeInfo, error) {
			own := req
			own.Image = append([]byte(nil), req.Image...)
			return probeOn(own)
		},
		snapshot: func(res *ferry.ProbeInfo) *ferry.ProbeInfo { own := *res; return &own },
		compare:  compareProbes,
	})
}

// probeOn runs req on a path's Processor, which must also be a ferry.Prober.
func probeOn(req ferry.ProbeRequest) func(context.Context, ferry.Processor) (*ferry.ProbeInfo, error) {
	return func(ctx context.Context, p ferry.Processor) (*ferry.ProbeInfo, error) {
		prober, ok := p.(ferry.Prober)
		if !ok {
			return nil, &ferry.ServerError{Code: ferry.CodeUnknownOp, Message: fmt.Sprintf("%T serves no probe", p)}
		}
		return prober.Probe(ctx, req)
	}
}

// compareProbes says whether two paths read the same header; Memory is each path's own figure
// and Served differs by design.
func compareProbes(a, b *ferry.ProbeInfo) (bool, string) {
	x, y := *a, *b
	x.Memory, y.Memory, x.Served, y.Served = 0, 0, ferry.Served{}, ferry.Served{}
	if x != y {
		return false, fmt.Sprintf("probe %+v against %+v", x, y)
	}
	return true, ""
}

var _ ferry.Prober = (*Router)(nil)
