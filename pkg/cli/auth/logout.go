package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// LogoutOptions are the inputs of `sfp logout`.
type LogoutOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc
}

// NewCmdLogout builds `sfp logout`.
func NewCmdLogout(f *cmdutil.Factory, runF func(context.Context, *LogoutOptions) error) *cobra.Command {
	opts := &LogoutOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
	return &cobra.Command{
		Use:   "logout",
		Short: "Log out: revoke the session and forget it",
		Long: `Revoke the session's refresh tokens on the server (if it can be reached) and
delete the stored session. The server URL and anon key stay configured, so the
next login needs only --email.`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return logoutRun(cmd.Context(), opts)
		},
	}
}

func logoutRun(ctx context.Context, opts *LogoutOptions) error {
	c, err := opts.Client(ctx)
	var ae *cmdutil.AuthError
	if errors.As(err, &ae) {
		fmt.Fprintln(opts.IO.ErrOut, "Not logged in.")
		return nil
	}
	if err != nil {
		return err
	}
	defer c.Close()
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	err = c.Auth.SignOut(ctx)
	if errors.Is(err, client.ErrUnreachable) {
		// The local session is gone anyway; say the server was not told.
		fmt.Fprintf(opts.IO.ErrOut, "Logged out locally; %s could not be reached to revoke the session.\n", cfg.Server)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Logged out of %s.\n", cfg.Server)
	return nil
}
