// Package env holds `sfp env`: environments and their lease queue.
package env

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// NewCmdEnv builds `sfp env`.
func NewCmdEnv(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "env <command>",
		Aliases: []string{"environment"},
		Short:   "Manage a project's environments and lock them",
		Long: `Environments are a project's deployment targets (orgs, sandboxes). Viewers read
them; members create, change, delete and lock them. Every command but unlock
and extend takes --project (identifier or id) and --account.

Locking puts a ticket in the environment's lease queue: the oldest ticket
holds the environment until it is unlocked or its lease runs out, then the
next one gets it. 'sfp env lock --wait' waits for its turn. A holder whose
time is up is replaced the next time anyone looks at or requests the
environment, and on the embedded runtime within 15 seconds in any case.`,
	}
	cmd.AddCommand(NewCmdCreate(f, nil), NewCmdList(f, nil), NewCmdShow(f, nil), NewCmdUpdate(f, nil), NewCmdDelete(f, nil),
		NewCmdLock(f, nil), NewCmdUnlock(f, nil), NewCmdExtend(f, nil), NewCmdQueue(f, nil))
	return cmd
}

// projectFlag registers --project for the commands that need one.
func projectFlag(cmd *cobra.Command, s *cmdutil.Scope) {
	s.ProjectFlag(cmd, "Project identifier (org/repo) or id (required)")
	s.AccountFlag(cmd)
}

// needEnv is the scope of the commands that name an environment.
var needEnv = cmdutil.Need{Environment: true}

func raw(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

func position(l *client.Lease) string {
	if l.QueuePosition == nil {
		return "-"
	}
	return strconv.Itoa(*l.QueuePosition)
}
