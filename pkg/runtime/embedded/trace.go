package embedded

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"
)

// TraceEnv turns the start trace on: with SFP_TRACE_START=1 a start logs
// one "start trace" line per phase (process spawn, lock, cluster creation,
// readiness wait, platform SQL, migrations, servers, ...) with its duration
// and its offset from the start, at info level, so that sfp.log says where
// the time of a start went. Without it the same lines are logged at debug
// level. docs/performance.md ("where the time goes") reads these lines.
const TraceEnv = "SFP_TRACE_START"

// traceSpawnEnv carries the moment the detached parent started the child
// (Unix nanoseconds), so the child's trace includes the process start.
const traceSpawnEnv = "SFP_TRACE_SPAWNED"

// startTrace times the phases of one start. Its methods are safe for
// concurrent use (phases overlap) and a nil *startTrace does nothing.
type startTrace struct {
	log   *slog.Logger
	level slog.Level
	begin time.Time
	mu    sync.Mutex
}

func newStartTrace(log *slog.Logger, on bool) *startTrace {
	t := &startTrace{log: log, level: slog.LevelDebug, begin: time.Now()}
	if on {
		t.level = slog.LevelInfo
	}
	return t
}

// enabled reports whether the trace's lines reach the log at all: the
// phases are then timed, otherwise the trace costs nothing.
func (t *startTrace) enabled() bool {
	return t != nil && t.log.Enabled(context.Background(), t.level)
}

// phase starts timing name; the returned func ends it and logs the line.
func (t *startTrace) phase(name string) func() {
	if !t.enabled() {
		return func() {}
	}
	start := time.Now()
	return func() { t.record(name, start, time.Now()) }
}

// record logs a phase that ran from start to end.
func (t *startTrace) record(name string, start, end time.Time) {
	if !t.enabled() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.log.Log(context.Background(), t.level, "start trace", "phase", name,
		"ms", ms(end.Sub(start)), "at_ms", ms(start.Sub(t.begin)))
}

// spawned records the detached child's own process start: from the moment
// its parent started it (traceSpawnEnv) to this trace's beginning.
func (t *startTrace) spawned() {
	v := os.Getenv(traceSpawnEnv)
	if v == "" || !t.enabled() {
		return
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return
	}
	at := time.Unix(0, n)
	t.mu.Lock()
	t.log.Log(context.Background(), t.level, "start trace", "phase", "process spawn (parent start → child main)",
		"ms", ms(t.begin.Sub(at)), "at_ms", ms(at.Sub(t.begin)))
	t.mu.Unlock()
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64)
}
