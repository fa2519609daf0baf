package env

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// UnlockOptions are the inputs of `sfp env unlock`.
type UnlockOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc

	Ticket string
	JSON   bool
}

// NewCmdUnlock builds `sfp env unlock`.
func NewCmdUnlock(f *cmdutil.Factory, runF func(context.Context, *UnlockOptions) error) *cobra.Command {
	opts := &UnlockOptions{IO: f.IOStreams, Client: f.UserClient}
	cmd := &cobra.Command{
		Use:   "unlock --ticket T",
		Short: "Give an environment back (or leave its queue)",
		Long: `Release a ticket that holds the environment (the next in line gets it), or
cancel a queued one.`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkTicket(opts.Ticket); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return unlockRun(cmd.Context(), opts)
		},
	}
	ticketFlag(cmd, &opts.Ticket)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Lease{})
	return cmd
}

func unlockRun(ctx context.Context, opts *UnlockOptions) error {
	c, err := opts.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	l, err := c.Environments.Unlock(ctx, opts.Ticket)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, l)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Ticket %s is %s.\n", l.Ticket, l.Status)
	return nil
}

// ExtendOptions are the inputs of `sfp env extend`.
type ExtendOptions struct {
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc

	Ticket string
	Lease  time.Duration
	JSON   bool
}

// NewCmdExtend builds `sfp env extend`.
func NewCmdExtend(f *cmdutil.Factory, runF func(context.Context, *ExtendOptions) error) *cobra.Command {
	opts := &ExtendOptions{IO: f.IOStreams, Client: f.UserClient}
	cmd := &cobra.Command{
		Use:   "extend --ticket T --lease 1h",
		Short: "Hold an environment longer",
		Long: `Hold the environment longer; a queued ticket will hold it longer once granted.
A finished ticket exits 6.`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkTicket(opts.Ticket); err != nil {
				return err
			}
			if opts.Lease <= 0 {
				return cmdutil.FlagErrorf("--lease must be positive")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return extendRun(cmd.Context(), opts)
		},
	}
	ticketFlag(cmd, &opts.Ticket)
	cmd.Flags().DurationVar(&opts.Lease, "lease", time.Hour, "How much longer")
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Lease{})
	return cmd
}

func extendRun(ctx context.Context, opts *ExtendOptions) error {
	c, err := opts.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	l, err := c.Environments.Extend(ctx, opts.Ticket, opts.Lease)
	if err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, l)
	}
	if l.Active() {
		fmt.Fprintf(opts.IO.ErrOut, "Ticket %s now holds the environment until %s.\n", l.Ticket, cmdutil.FormatTimePtr(l.ExpiresAt))
	} else {
		fmt.Fprintf(opts.IO.ErrOut, "Ticket %s (%s) will hold the environment for %s once granted.\n", l.Ticket, l.Status, l.Lease)
	}
	return nil
}

func ticketFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "ticket", "", "The `TICKET` printed by 'sfp env lock'")
}

func checkTicket(ticket string) error {
	if ticket == "" {
		return cmdutil.FlagErrorf("which ticket? pass --ticket T (printed by `sfp env lock`)")
	}
	if !client.IsUUID(ticket) {
		return cmdutil.FlagErrorf("--ticket %q is not a ticket id (a UUID)", ticket)
	}
	return nil
}
