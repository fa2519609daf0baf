// Package doc holds `sfp doc`: JSON documents in collections.
package doc

import (
	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// NewCmdDoc builds `sfp doc`.
func NewCmdDoc(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "doc <command>",
		Short: "Store and read JSON documents",
		Long: `Documents are JSON values kept in named collections of an account, each under
a key, with a version that every write increments. Viewers read; members
write. --if-version N makes a write or delete apply only if the document is
still at version N; otherwise it fails with exit code 6 and the current
version. All doc commands take --account.

Collection names are 1-63 of a-z 0-9 _ . -; keys up to 512 characters. The
collections build_manifests and changelogs are kept in their own indexed
tables, transparently.`,
	}
	cmd.AddCommand(NewCmdPut(f, nil), NewCmdGet(f, nil), NewCmdList(f, nil), NewCmdDelete(f, nil), NewCmdCollections(f, nil))
	return cmd
}

// checkIfVersion refuses a negative --if-version (0 means none).
func checkIfVersion(v int64) error {
	if v < 0 {
		return cmdutil.FlagErrorf("--if-version must be a version (1 or more)")
	}
	return nil
}

// accountOnly is the scope of every doc command: the account.
var accountOnly = cmdutil.Need{Account: true}
