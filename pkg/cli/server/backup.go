package server

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/backup"
	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// BackupOptions are the inputs of `sfp server backup`.
type BackupOptions struct {
	tenantJSONInputs

	Output         string
	PassphraseFile string
	Recipient      string
	Unencrypted    bool
	Format         string
	// Docker runs the programs in a docker tenant's db service.
	Docker backup.ComposeDB
}

// NewCmdBackup builds `sfp server backup` (and `backup list`).
func NewCmdBackup(f *cmdutil.Factory, runF func(context.Context, *BackupOptions) error) *cobra.Command {
	opts := &BackupOptions{}
	cmd := &cobra.Command{
		Use:   "backup -t NAME [--output FILE] [--json]",
		Short: "Back up a running tenant, encrypted",
		Long: `Take an online backup of the whole tenant while it serves traffic: a physical
base backup of its PostgreSQL cluster by pg_basebackup (every schema, the
Vault root key that decrypts integration credentials, the WAL that makes it
consistent) together with tenant.yaml and .env (API keys, JWT signing keys,
role passwords). The file is written only when complete (mode 0600).

A backup holds the tenant's secrets, so it is encrypted with age: to the
passphrase in a file (--passphrase-file) or to an age public key
(--recipient), by default as backup.passphrase_file or backup.recipient in
tenant.yaml say. Without either the backup is refused unless --unencrypted.

--format sql writes a pg_dump export instead, for moving a tenant to the
docker runtime or a hosted Supabase project (docs/backups.md); it cannot be
restored with sfp server restore.

A docker tenant is backed up the same way, by pg_basebackup or pg_dump run in
its db service (docker compose exec); sfp server restore takes embedded
backups only (docs/backups.md).`,
		Example: `  sfp server backup -t acme
  sfp server backup -t acme --output /srv/backups/acme.sfpbackup --json
  sfp server backup -t acme --recipient age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
  sfp server backup list -t acme`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunE(opts, opts.validate, runF, onTenant(f, backupRun)),
	}
	opts.registerJSON(f, cmd, "", nil)
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "Backup file (default <backup.directory>/<tenant>-<time>.sfpbackup)")
	cmd.Flags().StringVar(&opts.PassphraseFile, "passphrase-file", "", "Encrypt to the passphrase in this file (default backup.passphrase_file)")
	cmd.Flags().StringVar(&opts.Recipient, "recipient", "", "Encrypt to this age public key (default backup.recipient)")
	cmd.Flags().BoolVar(&opts.Unencrypted, "unencrypted", false, "Write the backup, secrets included, unencrypted")
	cmd.Flags().StringVar(&opts.Format, "format", "physical", "physical (restorable, point-in-time) or sql (pg_dump export)")
	cmd.AddCommand(NewCmdBackupList(f, nil), NewCmdBackupSQL(f, nil))
	return cmd
}

// encryption is what the flags and tenant.yaml ask for, the flags first.
func (o *BackupOptions) encryption(t *tenant.Tenant) backup.Encryption {
	switch {
	case o.Unencrypted:
		return backup.Encryption{Unencrypted: true}
	case o.PassphraseFile != "" || o.Recipient != "":
		return backup.Encryption{PassphraseFile: o.PassphraseFile, Recipient: o.Recipient}
	}
	return backup.Encryption{PassphraseFile: t.BackupPassphraseFile(), Recipient: t.Config.Backup.Recipient}
}

// validate checks the flags before anything runs.
func (opts *BackupOptions) validate() error {
	if opts.Format != "physical" && opts.Format != backup.KindSQL {
		return cmdutil.FlagErrorf("--format: %q is not physical or sql", opts.Format)
	}
	if opts.PassphraseFile != "" && opts.Recipient != "" {
		return cmdutil.FlagErrorf("--passphrase-file or --recipient, not both")
	}
	if opts.Unencrypted && (opts.PassphraseFile != "" || opts.Recipient != "") {
		return cmdutil.FlagErrorf("--unencrypted cannot be combined with --passphrase-file or --recipient")
	}
	return nil
}

// backupRun backs up the tenant the flags name (a docker tenant through
// its db container).
func backupRun(ctx context.Context, f *cmdutil.Factory, opts *BackupOptions, t *tenant.Tenant) error {
	if t.Config.Runtime == tenant.RuntimeDocker {
		rt, err := dockerRuntime(f)
		if err != nil {
			return err
		}
		opts.Docker, _ = rt.(backup.ComposeDB)
	}
	kind := backup.KindPhysical
	if opts.Format == backup.KindSQL {
		kind = backup.KindSQL
	}
	p := newByteProgress(opts.IO)
	res, err := backup.Backup(ctx, t, backup.Options{Output: opts.Output, Encryption: opts.encryption(t), Kind: kind, Progress: p.report, Docker: opts.Docker})
	p.done()
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, res)
	}
	enc := "encrypted"
	if !res.Encrypted {
		enc = "UNENCRYPTED"
	}
	fmt.Fprintf(opts.IO.ErrOut, "Backed up %q (%s, %s, schema %s, WAL %s..%s) in %s.\n", t.Name(), humanBytes(res.Size), enc,
		res.SchemaVersion, res.StartLSN, res.EndLSN, res.FinishedAt.Sub(res.StartedAt).Round(time.Millisecond))
	fmt.Fprintln(opts.IO.Out, res.File)
	return nil
}
