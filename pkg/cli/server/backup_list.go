package server

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/backup"
	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// BackupListOptions are the inputs of `sfp server backup list`.
type BackupListOptions struct {
	tenantJSONInputs
}

// NewCmdBackupList builds `sfp server backup list`.
func NewCmdBackupList(f *cmdutil.Factory, runF func(context.Context, *BackupListOptions) error) *cobra.Command {
	opts := &BackupListOptions{}
	cmd := &cobra.Command{
		Use:   "list -t NAME",
		Short: "List a tenant's backups and the earliest point it can be restored to",
		Long: `List the backups sfp took of the tenant whose files still exist (newest first),
the last failed scheduled backup, and — when WAL is archived — the earliest
time a restore with --to-time can reach.`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, nil, runF, onTenant(f, backupListRun)),
	}
	opts.registerJSON(f, cmd, "", nil)
	return cmd
}

// backupListRun lists the backups of the tenant the flags name.
func backupListRun(ctx context.Context, f *cmdutil.Factory, opts *BackupListOptions, t *tenant.Tenant) error {
	s, err := backup.List(t)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, s)
	}
	return printBackups(opts.IO, s)
}

func printBackups(ios *cmdutil.IOStreams, s *backup.Summary) error {
	if s.LastError != nil {
		fmt.Fprintf(ios.ErrOut, "Last scheduled backup FAILED at %s: %s\n", s.LastError.At.Format(time.RFC3339), s.LastError.Error)
	}
	if s.WALArchive != "" && s.EarliestRestorable != nil {
		fmt.Fprintf(ios.ErrOut, "WAL archive %s; restorable to any time from %s on.\n", s.WALArchive, s.EarliestRestorable.Format(time.RFC3339))
	}
	tw := tabwriter.NewWriter(ios.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FINISHED\tKIND\tSIZE\tENCRYPTED\tSCHEMA\tEND LSN\tFILE")
	for _, b := range s.Backups {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\t%s\n", b.FinishedAt.Format(time.RFC3339), b.Kind, humanBytes(b.Size), b.Encrypted, b.SchemaVersion, b.EndLSN, b.File)
	}
	return tw.Flush()
}
