// Package cli holds the sfp command tree. Commands hold no data logic and no
// SQL: they parse flags, call a library (pkg/client, pkg/runtime,
// pkg/migrate) and print.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/account"
	"github.com/sfp-dev/sfp/pkg/cli/auth"
	"github.com/sfp-dev/sfp/pkg/cli/build"
	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/cli/deployment"
	"github.com/sfp-dev/sfp/pkg/cli/doc"
	"github.com/sfp-dev/sfp/pkg/cli/env"
	"github.com/sfp-dev/sfp/pkg/cli/integration"
	"github.com/sfp-dev/sfp/pkg/cli/mfa"
	"github.com/sfp-dev/sfp/pkg/cli/project"
	"github.com/sfp-dev/sfp/pkg/cli/server"
	"github.com/sfp-dev/sfp/pkg/cli/task"
)

// NewCmdRoot builds the command tree.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sfp <command> <subcommand> [flags]",
		Short: "Dedicated Supabase stacks for every organisation, and a client for them",
		Long: `sfp runs a dedicated Supabase stack (PostgreSQL, auth, REST, realtime and a
gateway) for each tenant, and is the command-line client for it.`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	cmd.SetIn(f.IOStreams.In)
	cmd.SetOut(f.IOStreams.Out)
	cmd.SetErr(f.IOStreams.ErrOut)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &cmdutil.FlagError{Err: err}
	})
	cmd.AddGroup(&cobra.Group{ID: "server", Title: "Running tenants"})
	cmd.AddCommand(NewCmdVersion(f, nil))
	srv := server.NewCmdServer(f)
	srv.GroupID = "server"
	cmd.AddCommand(srv)

	cmd.AddGroup(&cobra.Group{ID: "auth", Title: "Signing in"},
		&cobra.Group{ID: "tenant", Title: "Working with a tenant"})
	for _, c := range []*cobra.Command{
		auth.NewCmdSignup(f, nil), auth.NewCmdLogin(f, nil), auth.NewCmdLogout(f, nil), auth.NewCmdWhoami(f, nil),
	} {
		c.GroupID = "auth"
		cmd.AddCommand(c)
	}
	mfaCmd := mfa.NewCmdMFA(f)
	mfaCmd.GroupID = "auth"
	cmd.AddCommand(mfaCmd)
	for _, c := range []*cobra.Command{
		account.NewCmdAccount(f), project.NewCmdProject(f), env.NewCmdEnv(f),
		build.NewCmdBuild(f), build.NewCmdRelease(f), deployment.NewCmdDeployment(f),
		task.NewCmdTask(f), integration.NewCmdIntegration(f), doc.NewCmdDoc(f),
	} {
		c.GroupID = "tenant"
		cmd.AddCommand(c)
	}
	cmd.InitDefaultCompletionCmd()
	rejectUnknownSubcommands(cmd)
	return cmd
}

// rejectUnknownSubcommands makes every command that only groups others
// fail with a usage error on an unknown subcommand ("sfp project lst"),
// where cobra would print the help and exit 0.
func rejectUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		rejectUnknownSubcommands(sub)
	}
	if c.HasParent() && c.HasSubCommands() && c.Run == nil && c.RunE == nil {
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return cmdutil.FlagErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		}
	}
}

// Main runs sfp and returns the process exit code.
func Main() int {
	f := cmdutil.New()
	f.Version = version()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, f, os.Args[1:])
}

// Run runs the command line args with the factory's streams and returns
// the exit code; errors are printed once, with a hint when there is one.
func Run(ctx context.Context, f *cmdutil.Factory, args []string) int {
	root := NewCmdRoot(f)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && strings.HasPrefix(err.Error(), "unknown command ") {
		err = &cmdutil.FlagError{Err: err}
	}
	if err != nil {
		printError(f, cmd, err)
	}
	return cmdutil.ExitCode(err)
}

func printError(f *cmdutil.Factory, cmd *cobra.Command, err error) {
	ios := f.IOStreams
	var ee *cmdutil.ExitError
	if errors.As(err, &ee) && ee.Err == nil {
		return
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(ios.ErrOut, "interrupted")
		return
	}
	withCodes := f.Getenv("SFP_DEBUG") == "1" || jsonRequested(cmd)
	fmt.Fprintln(ios.ErrOut, "error:", cmdutil.ErrorMessage(err, withCodes))
	var fe *cmdutil.FlagError
	if errors.As(err, &fe) && cmd != nil {
		fmt.Fprintf(ios.ErrOut, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	if hint := cmdutil.Hint(err); hint != "" {
		fmt.Fprintln(ios.ErrOut, hint)
	}
}

// jsonRequested reports whether the command ran with --json: its errors
// then keep the HTTP status and protocol code, for the program reading it.
func jsonRequested(cmd *cobra.Command) bool {
	if cmd == nil {
		return false
	}
	fl := cmd.Flags().Lookup("json")
	return fl != nil && fl.Value.String() == "true"
}
