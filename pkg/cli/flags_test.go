package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/auth"
	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/cli/deployment"
	"github.com/sfp-dev/sfp/pkg/cli/doc"
	"github.com/sfp-dev/sfp/pkg/cli/env"
	"github.com/sfp-dev/sfp/pkg/cli/integration"
	"github.com/sfp-dev/sfp/pkg/cli/task"
)

func testFactory() *cmdutil.Factory {
	ios, _, _, _ := cmdutil.Test()
	return &cmdutil.Factory{IOStreams: ios, Getenv: func(string) string { return "" }}
}

// execFlags parses args with a command built with runF and returns the
// error (nil when runF ran).
func execFlags(cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(args)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return cmd.ExecuteContext(context.Background())
}

// Flag parsing and validation, without a server: what each command hands
// to its run function, and which inputs are usage errors (exit 2) before
// anything is sent.
func TestFlagParsing(t *testing.T) {
	f := testFactory()
	usage := func(t *testing.T, err error, want string) {
		t.Helper()
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), want) || cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Fatalf("err %v, want a usage error with %q", err, want)
		}
	}
	t.Run("login", func(t *testing.T) {
		var got *auth.LoginOptions
		run := func(_ context.Context, o *auth.LoginOptions) error { got = o; return nil }
		if err := execFlags(auth.NewCmdLogin(f, run), "-t", "acme", "--email", "a@b.test", "--password-stdin"); err != nil {
			t.Fatal(err)
		}
		if got.Tenant != "acme" || got.Email != "a@b.test" || !got.PasswordStdin {
			t.Fatalf("%+v", got)
		}
		usage(t, execFlags(auth.NewCmdLogin(f, run)), "--email")
		usage(t, execFlags(auth.NewCmdLogin(f, run), "--email", "x", "extra"), "unexpected argument")
	})
	t.Run("env lock", func(t *testing.T) {
		var got *env.LockOptions
		run := func(_ context.Context, o *env.LockOptions) error { got = o; return nil }
		if err := execFlags(env.NewCmdLock(f, run), "staging", "-p", "acme/web", "--lease", "90m", "--reason", "r", "--wait"); err != nil {
			t.Fatal(err)
		}
		if got.Name != "staging" || got.Project != "acme/web" || got.Lease != 90*time.Minute || !got.Wait || got.Reason != "r" {
			t.Fatalf("%+v", got)
		}
		usage(t, execFlags(env.NewCmdLock(f, run), "staging", "-p", "a/b", "--lease", "721h"), "--lease")
		usage(t, execFlags(env.NewCmdLock(f, run), "staging", "-p", "a/b", "--lease", "soon"), "invalid argument")
		usage(t, execFlags(env.NewCmdLock(f, run), "-p", "a/b"), "environment's name")
	})
	t.Run("task report", func(t *testing.T) {
		var got *task.ReportOptions
		run := func(_ context.Context, o *task.ReportOptions) error { got = o; return nil }
		id := "5c0f9a52-7a35-4a8e-9a43-1d2d3e4f5a6b"
		if err := execFlags(task.NewCmdReport(f, run), id, "--progress", "0", "--service-key", "k", "--output", `{"a":1}`); err != nil {
			t.Fatal(err)
		}
		if got.ID != id || got.Progress != 0 || got.Service.ServiceKey != "k" || got.Output != `{"a":1}` {
			t.Fatalf("%+v", got)
		}
		usage(t, execFlags(task.NewCmdReport(f, run), id), "nothing to report")
		usage(t, execFlags(task.NewCmdReport(f, run), id, "--status", "done"), "--status")
		usage(t, execFlags(task.NewCmdReport(f, run), id, "--progress", "-1"), "--progress")
		usage(t, execFlags(task.NewCmdReport(f, run), "x", "--progress", "1"), "UUID")
		usage(t, execFlags(task.NewCmdReport(f, run), id, "--error", "{"), "--error is not valid JSON")
	})
	t.Run("deployment create", func(t *testing.T) {
		var got *deployment.Options
		run := func(_ context.Context, o *deployment.Options) error { got = o; return nil }
		if err := execFlags(deployment.NewCmdCreate(f, run), "-p", "acme/web", "-e", "prod", "--release", "1.4", "-w", "--json"); err != nil {
			t.Fatal(err)
		}
		if got.Project != "acme/web" || got.Env != "prod" || got.Release != "1.4" || !got.Watch || !got.JSON {
			t.Fatalf("%+v", got)
		}
		usage(t, execFlags(deployment.NewCmdCreate(f, run), "-p", "acme/web"), "--env")
	})
	t.Run("doc put", func(t *testing.T) {
		var got *doc.Options
		run := func(_ context.Context, o *doc.Options) error { got = o; return nil }
		if err := execFlags(doc.NewCmdPut(f, run), "notes", "k", "-d", `{"a":1}`, "--if-version", "3"); err != nil {
			t.Fatal(err)
		}
		if got.Collection != "notes" || got.Key != "k" || got.IfVersion != 3 || got.Data != `{"a":1}` {
			t.Fatalf("%+v", got)
		}
		usage(t, execFlags(doc.NewCmdPut(f, run), "notes", "k", "-d", "1", "-f", "x.json"), "exclude")
		usage(t, execFlags(doc.NewCmdPut(f, run), "notes", "k", "-d", "1", "--create-only", "--if-version", "2"), "exclude")
		usage(t, execFlags(doc.NewCmdPut(f, run), "notes", "k", "-d", "1", "--if-version", "-2"), "--if-version")
		usage(t, execFlags(doc.NewCmdPut(f, run), "notes"), "collection and the key")
	})
	t.Run("credentials get", func(t *testing.T) {
		run := func(_ context.Context, o *integration.Options) error { return nil }
		usage(t, execFlags(integration.NewCmdCredentialsGet(f, run), "gh", "--reveal", "-o", "x"), "exclude")
	})
	t.Run("list flags", func(t *testing.T) {
		run := func(_ context.Context, o *doc.Options) error { return nil }
		usage(t, execFlags(doc.NewCmdList(f, run), "notes", "--limit", "1001"), "--limit")
		usage(t, execFlags(doc.NewCmdList(f, run), "notes", "--all", "--cursor", "c"), "exclude")
	})
}
