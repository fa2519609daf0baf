package embedded_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/internal/sfptest"
)

// With SFP_TRACE_START=1 a detached start says where its time went: the
// child's sfp.log has a "start trace" line for each phase of the first
// start (the cluster created, PostgreSQL started, the bootstrap, the
// servers), the parent one for its wait; a second start has no initdb. Without
// the variable there are no trace lines.
func TestStartTrace(t *testing.T) {
	base := sfptest.BaseDir(t)
	env := sfptest.Env{"SFP_TRACE_START": "1"}
	sfptest.MustRun(t, base, nil, "server", "init", "-t", "tr")
	first := sfptest.MustRun(t, base, env, "server", "start", "-t", "tr", "-d")
	sfptest.MustRun(t, base, nil, "server", "stop", "-t", "tr")
	logPath := filepath.Join(base, "tenants", "tr", "logs", "sfp.log")
	log := readFile(t, logPath)
	for _, phase := range []string{
		"process spawn", "run lock", "postgres: initdb", "postgres: syncfs of the new cluster",
		"postgres: spawn until ready", "platform SQL and role passwords", "migrations (check and apply)",
		"auth server", "REST server", "realtime server", "whole start in this process",
	} {
		if !strings.Contains(log, `msg="start trace" phase="`+phase) {
			t.Errorf("first start: no trace line for %q in sfp.log:\n%s", phase, log)
		}
	}
	if !strings.Contains(first.Stderr, "detached start: parent until the child's state file says ready") {
		t.Errorf("the parent did not trace its wait; stderr:\n%s", first.Stderr)
	}

	os.Truncate(logPath, 0)
	sfptest.MustRun(t, base, env, "server", "start", "-t", "tr", "-d")
	sfptest.MustRun(t, base, nil, "server", "stop", "-t", "tr")
	log = readFile(t, logPath)
	if !strings.Contains(log, `phase="postgres: spawn until ready"`) || strings.Contains(log, "initdb") {
		t.Errorf("second start: want a PostgreSQL start and no initdb in the trace:\n%s", log)
	}

	os.Truncate(logPath, 0)
	r := sfptest.MustRun(t, base, nil, "server", "start", "-t", "tr", "-d")
	sfptest.MustRun(t, base, nil, "server", "stop", "-t", "tr")
	if log := readFile(t, logPath); strings.Contains(log, "start trace") || strings.Contains(r.Stderr, "start trace") {
		t.Errorf("trace lines without SFP_TRACE_START:\n%s\n%s", log, r.Stderr)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
