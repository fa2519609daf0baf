package server

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/backup"
	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/runtime"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// StatusOptions are the inputs of `sfp server status`.
type StatusOptions struct {
	tenantJSONInputs

	// Watch redraws the status every Interval until interrupted.
	Watch    bool
	Interval time.Duration
}

// NewCmdStatus builds `sfp server status`.
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{}
	cmd := &cobra.Command{
		Use:   "status -t NAME",
		Short: "Show whether a tenant and each of its components are up",
		Long: `Show the tenant's process, uptime and schema version, and for each component
(postgres, gateway, auth, rest, realtime) whether it answers and where. When
PostgreSQL crashed since the start, how often it was restarted and the last crash
(postgres_restarts, last_postgres_crash in --json). The last backups, a failed
scheduled backup and the earliest point a restore can reach (backups). The exit code is 0 whether
the tenant runs or not; use --json and "running" in scripts.

While an embedded tenant runs, its admin listener (tenant.yaml monitoring.port)
is read too: readiness with each check, and sfp's figures from /metrics — the
series Prometheus scrapes ("monitoring" in --json; docs/observability.md lists
them). --watch redraws all of it every --interval until Ctrl-C.`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, nil, runF, onRuntime(f, statusRun)),
	}
	opts.registerJSON(f, cmd, "", nil)
	cmd.Flags().BoolVarP(&opts.Watch, "watch", "w", false, "Redraw the status and figures until interrupted (with --json: one document per line)")
	cmd.Flags().DurationVar(&opts.Interval, "interval", 2*time.Second, "How often --watch redraws")
	return cmd
}

// statusRun shows the status of the tenant the flags name, once or with
// --watch until interrupted.
func statusRun(ctx context.Context, opts *StatusOptions, t *tenant.Tenant, rt runtime.Runtime) error {
	if opts.Watch {
		return watchStatus(ctx, opts, func(ctx context.Context) (*runtime.Status, error) { return rt.Status(ctx, t) })
	}
	st, err := rt.Status(ctx, t)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, st)
	}
	return printStatus(opts.IO.Out, st)
}

// printStatus writes the human status: the tenant, its components and,
// while it runs, what its admin listener reports.
func printStatus(w io.Writer, st *runtime.Status) error {
	state := "stopped"
	if st.Running {
		var parts []string
		if st.PID > 0 {
			parts = append(parts, fmt.Sprintf("pid %d", st.PID))
		}
		if st.StartedAt != nil {
			parts = append(parts, "up "+(time.Duration(st.UptimeSeconds)*time.Second).String())
		}
		state = "running"
		if len(parts) > 0 {
			state += " (" + strings.Join(parts, ", ") + ")"
		}
	}
	fmt.Fprintf(w, "Tenant:   %s (%s runtime)\nState:    %s\nURL:      %s\n", st.Tenant, st.Runtime, state, st.URL)
	if st.SchemaVersion != "" {
		fmt.Fprintf(w, "Schema:   %s\n", st.SchemaVersion)
	}
	if c := st.LastPostgresCrash; c != nil {
		times := "times"
		if st.PostgresRestarts == 1 {
			times = "time"
		}
		fmt.Fprintf(w, "Crashes:  PostgreSQL restarted %d %s; last crash %s: %s\n",
			st.PostgresRestarts, times, c.At.UTC().Format(time.RFC3339), c.Error)
	}
	printBackupStatus(w, st.Backups)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tSTATE\tADDRESS\tDETAIL")
	for _, c := range st.Components {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.State, c.Address, c.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	printMonitoring(w, st.Monitoring)
	return nil
}

// printBackupStatus says when the tenant was last backed up and whether a
// scheduled backup failed.
func printBackupStatus(w io.Writer, b *backup.Summary) {
	if b == nil {
		return
	}
	if len(b.Backups) == 0 {
		fmt.Fprintln(w, "Backups:  none")
	} else {
		last := b.Backups[0]
		fmt.Fprintf(w, "Backups:  %d; last %s (%s)\n", len(b.Backups), last.FinishedAt.Format(time.RFC3339), last.File)
	}
	if b.EarliestRestorable != nil && b.WALArchive != "" {
		fmt.Fprintf(w, "Restore:  to any time from %s (WAL archive %s)\n", b.EarliestRestorable.Format(time.RFC3339), b.WALArchive)
	}
	if b.LastError != nil {
		fmt.Fprintf(w, "Backup FAILED at %s: %s\n", b.LastError.At.Format(time.RFC3339), b.LastError.Error)
	}
}
