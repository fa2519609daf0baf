package server

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/backup"
	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// BackupSQLOptions are the inputs of `sfp server backup sql`.
type BackupSQLOptions struct {
	IO *cmdutil.IOStreams
	decryptionFlags
}

// NewCmdBackupSQL builds `sfp server backup sql`.
func NewCmdBackupSQL(f *cmdutil.Factory, runF func(context.Context, *BackupSQLOptions) error) *cobra.Command {
	opts := &BackupSQLOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "sql --from FILE",
		Short: "Print the SQL of an export (backup --format sql) for psql",
		Long: `Decrypt an export taken with sfp server backup --format sql and print its SQL,
to load into a database migrated to the same schema version — a docker tenant's
db service or a hosted Supabase project — with psql as a superuser. The SQL
holds the credentials key in the clear: pipe it, do not keep it.`,
		Example: `  sfp server backup sql --from acme.sfpbackup --passphrase-file pass | docker compose exec -T db psql -U supabase_admin -d postgres`,
		Args:    cmdutil.NoArgs,
		RunE:    cmdutil.RunE(opts, opts.validate, runF, backupSQLRun),
	}
	opts.decryptionFlags.register(cmd, "Export file", "Decrypt with this age identity file")
	return cmd
}

// validate checks the flags before anything runs.
func (opts *BackupSQLOptions) validate() error {
	if opts.From == "" {
		return cmdutil.FlagErrorf("which export? pass --from FILE")
	}
	return nil
}

// decryptionFlags name an encrypted file that sfp server backup wrote and
// how to decrypt it: what restore and backup sql read.
type decryptionFlags struct {
	From           string
	PassphraseFile string
	IdentityFile   string
}

// register adds --from, --passphrase-file and --identity; from and
// identity describe the file and the identity for this command.
func (d *decryptionFlags) register(cmd *cobra.Command, from, identity string) {
	cmd.Flags().StringVar(&d.From, "from", "", from)
	cmd.Flags().StringVar(&d.PassphraseFile, "passphrase-file", "", "Decrypt with the passphrase in this file")
	cmd.Flags().StringVar(&d.IdentityFile, "identity", "", identity)
}

// decryption is what the flags say decrypts the file.
func (d *decryptionFlags) decryption() backup.Decryption {
	return backup.Decryption{PassphraseFile: d.PassphraseFile, IdentityFile: d.IdentityFile}
}

func backupSQLRun(_ context.Context, opts *BackupSQLOptions) error {
	f, err := os.Open(opts.From)
	if err != nil {
		return fmt.Errorf("read SQL export: %w", err)
	}
	defer f.Close()
	r, m, err := backup.OpenSQL(f, opts.decryption())
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "SQL export of %q taken %s at schema version %s.\n", m.Tenant, m.FinishedAt.Format("2006-01-02T15:04:05Z07:00"), m.SchemaVersion)
	if _, err := io.Copy(opts.IO.Out, r); err != nil {
		return fmt.Errorf("read SQL export: %w", err)
	}
	return nil
}
