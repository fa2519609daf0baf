package postgres

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// When the postmaster dies without shutting down (kill -9, the OOM killer),
// its children live on for a moment: backends, the checkpointer, WAL
// writer and sender. They notice the death the next time they wait and
// exit, but one busy with a long computation does not wait, and while any
// of them is attached to the old shared memory a new server refuses to
// start ("pre-existing shared memory block is still in use") — rightly:
// two servers must never write one data directory. So before a start, the
// leftovers of a dead server are given a moment, then stopped the way the
// postmaster itself stops its children after a crash.

// Grace periods for the leftovers of a dead postmaster (variables for tests).
var (
	orphanGrace = 2 * time.Second // to exit by themselves
	orphanQuit  = 2 * time.Second // after SIGQUIT, before SIGKILL
)

// orphans returns the pids of PostgreSQL processes running in this
// cluster's data directory (every server process works there) without a
// live postmaster: the leftovers of one that died. Call it only when no
// postmaster runs on the data directory.
func (c *Cluster) orphans() []int {
	dir, err := filepath.EvalSymlinks(c.cfg.DataDir)
	if err != nil {
		return nil
	}
	exe, _ := filepath.EvalSymlinks(c.cfg.Binaries.Path("postgres"))
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd")
		if err != nil || cwd != dir {
			continue
		}
		// The working directory alone could be someone's shell: it must be
		// the server binary (or, when its exe link is unreadable, say so in
		// its name).
		if bin, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil {
			if exe != "" && bin != exe {
				continue
			}
		} else if comm, err := os.ReadFile("/proc/" + e.Name() + "/comm"); err != nil || !strings.HasPrefix(string(comm), "postgres") {
			continue
		}
		if processAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// reapOrphans waits for the leftovers of a dead server to exit, sends
// those still there SIGQUIT (what the postmaster sends its children after
// a crash) and finally SIGKILL. It returns an error only if some survive
// all of it.
func (c *Cluster) reapOrphans(ctx context.Context) error {
	pids := c.orphans()
	if len(pids) == 0 {
		return nil
	}
	c.cfg.Logger.Warn("processes of a PostgreSQL server that died are still running; waiting for them to exit",
		"dir", c.cfg.DataDir, "pids", pids)
	for _, step := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{0, orphanGrace}, {syscall.SIGQUIT, orphanQuit}, {syscall.SIGKILL, 10 * time.Second}} {
		if step.sig != 0 {
			c.cfg.Logger.Warn("stopping processes of a PostgreSQL server that died", "signal", step.sig.String(), "pids", pids)
			for _, pid := range pids {
				_ = syscall.Kill(pid, step.sig)
			}
		}
		deadline := time.Now().Add(step.wait)
		for len(pids) > 0 && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("wait for processes of a PostgreSQL server that died (pids %v): %w", pids, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
			pids = c.orphans()
		}
		if len(pids) == 0 {
			return nil
		}
	}
	return fmt.Errorf("processes of a PostgreSQL server that died (pids %v) hold data directory %s and did not exit after SIGKILL; stop them and start again", pids, c.cfg.DataDir)
}
