package router

// Logger is what the Router logs to: a *slog.Logger is one (router.WithLogger(slog.Default())).
// The Router logs events that change its behaviour (breaker transitions, policy changes, the
// throttle engaging and releasing, shadow mismatches), never one line per request: per-request
// events go to the Observer. An interface rather than *slog.Logger keeps log/slog out of a
// service that logs otherwise.
type Logger interface {
	Debug(msg string, args ...any)
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
}

// nopLogger is the Router's logger when the caller gives none.
type nopLogger struct{}

func (nopLogger) Debug(string, ...any) {}
func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Warn(string, ...any)  {}
