package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/sfp-dev/sfp/pkg/runtime"
	"github.com/sfp-dev/sfp/pkg/server/postgres"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// ErrCrashLoop is wrapped by the error that stops a tenant whose
// PostgreSQL crashed postgres.restart.max_crashes times within
// postgres.restart.window.
var ErrCrashLoop = errors.New("PostgreSQL keeps crashing")

// Restart backoff: the delay before a restart doubles with each crash
// counted in the window, from restartBackoff up to maxRestartBackoff
// (variables for tests). The first restart comes quickly because a single
// crash (the OOM killer, an operator's kill -9) is the common case; the
// doubling keeps a server that fails at once from being started in a
// tight loop while it uses up its allowance of crashes.
var (
	restartBackoff    = 250 * time.Millisecond
	maxRestartBackoff = 30 * time.Second
)

// Supervision is what the supervisor has seen since the tenant started.
type Supervision struct {
	// Restarts counts successful restarts of a crashed PostgreSQL.
	Restarts int
	// LastCrash is the latest crash or failed restart, nil if none.
	LastCrash *runtime.Crash
	// Restarting is true from a crash until PostgreSQL accepts
	// connections again.
	Restarting bool
}

// supervisor owns the cluster's life while the tenant runs: when
// PostgreSQL exits without being asked to, it starts it again (PostgreSQL
// then performs crash recovery), with backoff, and stops the tenant only
// when crashes come too often for restarting to help. The servers ride
// out the gap on their own: their pools reconnect, requests meanwhile get
// 503 with Retry-After, realtime resumes from its replication slot.
type supervisor struct {
	cluster  *postgres.Cluster
	policy   tenant.RestartConfig
	config   string // tenant.yaml, named in the error that gives up
	logFile  string // PostgreSQL's log, where the reason for a crash is
	log      *slog.Logger
	onChange func(Supervision)
	giveUp   func(error)

	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	crashes []time.Time // within the window, oldest first
	state   Supervision
}

func newSupervisor(inst *Instance) *supervisor {
	policy := inst.T.Config.Postgres.Restart
	if policy.MaxCrashes <= 0 {
		policy.MaxCrashes = tenant.DefaultMaxCrashes
	}
	if policy.Window <= 0 {
		policy.Window = tenant.DefaultRestartWindow
	}
	onChange := inst.opts.OnSupervision
	if onChange == nil {
		onChange = func(Supervision) {}
	}
	return &supervisor{
		cluster:  inst.Cluster,
		policy:   policy,
		config:   inst.T.ConfigFile(),
		logFile:  inst.T.PostgresLog(),
		log:      inst.log.With("component", "supervisor"),
		onChange: onChange,
		giveUp:   inst.fail,
	}
}

// start watches the cluster until stop.
func (s *supervisor) start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go s.run(ctx)
}

// stop ends supervision and waits for it, so that a shutdown that stops
// PostgreSQL is not taken for a crash, and no restart is under way when it
// does. A restart in progress is abandoned (the server it started is
// stopped again).
func (s *supervisor) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
}

func (s *supervisor) snapshot() Supervision {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state
	if st.LastCrash != nil {
		c := *st.LastCrash
		st.LastCrash = &c
	}
	return st
}

func (s *supervisor) run(ctx context.Context) {
	defer close(s.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.cluster.Done():
		}
		if ctx.Err() != nil {
			return
		}
		cause := s.cluster.ExitError()
		if cause == nil {
			cause = errors.New("exited with status 0, stopped by something other than sfp")
		}
		if !s.restart(ctx, cause) {
			return
		}
	}
}

// restart counts the crash and starts PostgreSQL again, retrying a start
// that fails (each failure counts as a crash). It returns false when it
// gave up or supervision ended.
func (s *supervisor) restart(ctx context.Context, cause error) bool {
	down := time.Now()
	for retry := false; ; retry = true {
		n := s.crashed(cause)
		if n >= s.policy.MaxCrashes {
			// The last cause goes at the end: a failed start carries the
			// server's own last words, several lines of them.
			err := fmt.Errorf("PostgreSQL crashed %d times within %s (postgres.restart.max_crashes %d and postgres.restart.window %s in %s); not restarting it again (%w); see its log %s; last: %v",
				n, s.policy.Window, s.policy.MaxCrashes, s.policy.Window, s.config, ErrCrashLoop, s.logFile, cause)
			s.log.Error("giving up on PostgreSQL", "crashes", n, "window", s.policy.Window, "error", cause, "postgres_log", s.logFile)
			s.giveUp(err)
			return false
		}
		delay := min(restartBackoff<<(n-1), maxRestartBackoff)
		msg := "PostgreSQL exited unexpectedly; restarting it"
		if retry {
			msg = "PostgreSQL did not start again; retrying"
		}
		s.log.Error(msg, "error", cause, "crashes_in_window", n,
			"max_crashes", s.policy.MaxCrashes, "window", s.policy.Window, "retry_in", delay, "postgres_log", s.logFile)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(delay):
		}
		err := s.cluster.Start(ctx)
		if ctx.Err() != nil {
			return false
		}
		if err == nil {
			s.mu.Lock()
			s.state.Restarts++
			s.state.Restarting = false
			st := s.state
			s.mu.Unlock()
			s.log.Info("PostgreSQL restarted after a crash", "restarts", st.Restarts, "down_for", time.Since(down).Round(time.Millisecond))
			s.onChange(s.snapshot())
			return true
		}
		cause = fmt.Errorf("restart failed: %w", err)
	}
}

// crashed records a crash and returns how many fall within the window.
func (s *supervisor) crashed(cause error) int {
	now := time.Now()
	s.mu.Lock()
	keep := s.crashes[:0]
	for _, at := range s.crashes {
		if now.Sub(at) < s.policy.Window {
			keep = append(keep, at)
		}
	}
	s.crashes = append(keep, now)
	s.state.LastCrash = &runtime.Crash{At: now.UTC(), Error: firstLine(cause.Error())}
	s.state.Restarting = true
	n := len(s.crashes)
	s.mu.Unlock()
	s.onChange(s.snapshot())
	return n
}

// firstLine keeps a crash's error short enough for status output: a
// failed start appends the server's log, which is in the log file anyway.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
