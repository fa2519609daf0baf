package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/internal/pgtest"
	"github.com/sfp-dev/sfp/pkg/cli"
	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/migrate"
	"github.com/sfp-dev/sfp/supabase"
)

func TestMain(m *testing.M) { pgtest.MainWith(m, pgtest.Options{SkipMigrations: true}) }

// run executes sfp with args and returns stdout, stderr and the exit code.
func run(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	ios, _, out, errOut := cmdutil.Test()
	f := &cmdutil.Factory{IOStreams: ios, Getenv: func(k string) string { return env[k] }}
	root := cli.NewCmdRoot(f)
	root.SetArgs(args)
	_, err := root.ExecuteContextC(context.Background())
	if err != nil {
		errOut.WriteString("error: " + err.Error())
	}
	return out.String(), errOut.String(), cmdutil.ExitCode(err)
}

func TestMigrateCommand(t *testing.T) {
	db := pgtest.NewDB(t)
	url := db.URL("supabase_admin")
	runner, err := migrate.NewRunner(supabase.Migrations(), nil)
	if err != nil {
		t.Fatal(err)
	}
	n := len(runner.Migrations)

	out, _, code := run(t, nil, "server", "migrate", "--db-url", url, "--dry-run", "--json")
	var dry struct {
		DryRun  bool `json:"dry_run"`
		Applied []struct{ Version, Name string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &dry) != nil || !dry.DryRun || len(dry.Applied) != n {
		t.Fatalf("dry run: code %d, out %s", code, out)
	}

	// SFP_DB_URL works in place of the flag.
	out, errOut, code := run(t, map[string]string{"SFP_DB_URL": url}, "server", "migrate", "--json")
	var res struct {
		Applied []struct{ Version, Name string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Applied) != n {
		t.Fatalf("migrate: code %d, out %s, err %s", code, out, errOut)
	}

	out, _, code = run(t, nil, "server", "migrate", "status", "--db-url", url, "--json")
	var status []migrate.VersionStatus
	if code != 0 || json.Unmarshal([]byte(out), &status) != nil || len(status) != n {
		t.Fatalf("status: code %d out %s", code, out)
	}
	for _, s := range status {
		if s.State != migrate.StateApplied {
			t.Errorf("%+v not applied", s)
		}
	}
	// Human output is a table on stdout.
	out, _, code = run(t, nil, "server", "migrate", "status", "--db-url", url)
	if code != 0 || !strings.HasPrefix(out, "VERSION") {
		t.Errorf("status table: %q", out)
	}
	// Re-running is a no-op.
	_, errOut, code = run(t, nil, "server", "migrate", "--db-url", url)
	if code != 0 || !strings.Contains(errOut, "up to date") {
		t.Errorf("re-run: code %d, stderr %q", code, errOut)
	}
}

func TestMigrateErrors(t *testing.T) {
	_, errOut, code := run(t, nil, "server", "migrate")
	if code != cmdutil.ExitUsage || !strings.Contains(errOut, "--db-url") {
		t.Errorf("no URL: code %d, %q", code, errOut)
	}
	db := pgtest.NewDB(t)
	bad := strings.Replace(db.URL("supabase_admin"), db.Cluster.Passwords["supabase_admin"], "wrong-password-123", 1)
	_, errOut, code = run(t, nil, "server", "migrate", "--db-url", bad)
	if code != cmdutil.ExitFailure || !strings.Contains(errOut, "connect to supabase_admin@127.0.0.1") {
		t.Errorf("bad password: code %d, %q", code, errOut)
	}
	if strings.Contains(errOut, "wrong-password-123") {
		t.Errorf("the error shows the password: %q", errOut)
	}
}
