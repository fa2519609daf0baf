package server

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/backup"
	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// RestoreOptions are the inputs of `sfp server restore`.
type RestoreOptions struct {
	tenantJSONInputs

	decryptionFlags

	Force   bool
	ToTime  string
	ToLSN   string
	Archive string
	// Docker restores a docker tenant's backup.
	Docker backup.ComposeRestore

	toTime time.Time
}

// NewCmdRestore builds `sfp server restore`.
func NewCmdRestore(f *cmdutil.Factory, runF func(context.Context, *RestoreOptions) error) *cobra.Command {
	opts := &RestoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore -t NAME --from FILE [--to-time TIME | --to-lsn LSN]",
		Short: "Create a tenant from a backup, optionally at a point in time",
		Long: `Create tenant NAME from a backup taken with sfp server backup: its
configuration, keys and secrets, and its database, on free ports. Users sign in
with their passwords, API keys keep working, credentials decrypt, and the
migration history is the backup's. An existing tenant is refused unless
--force (it is replaced only once the restore has succeeded).

With --to-time or --to-lsn, PostgreSQL replays the WAL archive
(backup.wal_archive of the backed-up tenant, or --archive) from the backup up
to that point and stops there; the output says where it stopped. The time must
be after the backup finished and within the archive.

The restored tenant does not archive WAL (set backup.wal_archive to a new
directory). A failed restore removes everything it created. Start the tenant
with sfp server start.

A docker tenant's backup makes a docker tenant: its compose project, and the
cluster loaded into its db volume (Docker needed; no point-in-time recovery).
There --force removes the replaced tenant's volumes before loading, so it
cannot be put back.`,
		Example: `  sfp server restore -t acme2 --from acme-20261207T030000Z.sfpbackup --passphrase-file ~/.sfp-backup-pass
  sfp server restore -t acme2 --from acme.sfpbackup --identity key.txt --to-time 2026-12-07T04:05:00Z`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, opts.validate, runF, withFactory(f, restoreRun)),
	}
	opts.registerJSON(f, cmd, "", nil)
	opts.decryptionFlags.register(cmd, "Backup file", "Decrypt with this age identity file (age-keygen's)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "Replace an existing (stopped) tenant of that name")
	cmd.Flags().StringVar(&opts.ToTime, "to-time", "", "Recover to this time (RFC 3339) from the WAL archive")
	cmd.Flags().StringVar(&opts.ToLSN, "to-lsn", "", "Recover to this WAL position (e.g. 0/3000060) from the WAL archive")
	cmd.Flags().StringVar(&opts.Archive, "archive", "", "WAL archive directory (default: the backed-up tenant's backup.wal_archive)")
	return cmd
}

// validate checks the flags, and reads --to-time, before anything runs.
func (opts *RestoreOptions) validate() error {
	if opts.From == "" {
		return cmdutil.FlagErrorf("which backup? pass --from FILE")
	}
	if opts.PassphraseFile != "" && opts.IdentityFile != "" {
		return cmdutil.FlagErrorf("--passphrase-file or --identity, not both")
	}
	if opts.ToTime != "" && opts.ToLSN != "" {
		return cmdutil.FlagErrorf("--to-time or --to-lsn, not both")
	}
	if opts.ToTime != "" {
		t, err := time.Parse(time.RFC3339Nano, opts.ToTime)
		if err != nil {
			return cmdutil.FlagErrorf("--to-time: %q is not an RFC 3339 time such as 2026-12-07T04:05:00Z", opts.ToTime)
		}
		opts.toTime = t
	}
	return nil
}

// restoreRun restores a backup into the tenant the flags name.
func restoreRun(ctx context.Context, f *cmdutil.Factory, opts *RestoreOptions) error {
	base, err := opts.Flags.resolve(f, true)
	if err != nil {
		return err
	}
	rt, err := dockerRuntime(f)
	if err != nil {
		return err
	}
	opts.Docker, _ = rt.(backup.ComposeRestore)
	p := newByteProgress(opts.IO)
	res, err := backup.Restore(ctx, backup.RestoreOptions{Base: base, Name: opts.Flags.Tenant, From: opts.From,
		Decryption: opts.decryption(),
		Force:      opts.Force, ToTime: opts.toTime, ToLSN: opts.ToLSN, Archive: opts.Archive, Progress: p.report,
		Docker: opts.Docker})
	p.done()
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, res)
	}
	w := opts.IO.ErrOut
	fmt.Fprintf(w, "Restored %q from a backup of %q taken %s (schema %s).\n", res.Tenant, res.Source, res.BackupTime.Format(time.RFC3339), res.SchemaVersion)
	if r := res.RecoveredTo; r != nil {
		at := "no transaction after the backup"
		if r.LastTransaction != nil {
			at = "last transaction committed " + r.LastTransaction.Format(time.RFC3339Nano)
		}
		fmt.Fprintf(w, "Recovery stopped at WAL %s (%s).\n", r.LSN, at)
	}
	fmt.Fprintf(w, "URL %s; start it with `sfp server start -t %s -d`.\n", res.URL, res.Tenant)
	fmt.Fprintln(opts.IO.Out, res.Dir)
	return nil
}
