package env

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// LockOptions are the inputs of `sfp env lock`.
type LockOptions struct {
	cmdutil.Deps

	Scope  cmdutil.Scope // the project and the environment
	Lease  time.Duration
	Reason string
	Wait   bool
	JSON   bool
}

// maxLease is the longest lease a ticket may ask for.
const maxLease = 30 * 24 * time.Hour

// NewCmdLock builds `sfp env lock`.
func NewCmdLock(f *cmdutil.Factory, runF func(context.Context, *LockOptions) error) *cobra.Command {
	opts := &LockOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "lock NAME --project P --lease 2h --reason R [--wait]",
		Short: "Take an environment (queue a ticket for it)",
		Long: `Queue a ticket for the environment (members and owners). If nobody holds it,
the ticket holds it at once for --lease; otherwise it waits in line. With --wait
the command waits until the ticket holds the environment, printing its position
on stderr (Ctrl-C gives the ticket back). An inactive environment exits 6.

The ticket id is printed on stdout: give it to 'sfp env unlock --ticket'.`,
		Example: `  TICKET=$(sfp env lock staging --project acme/web --lease 2h --reason "release 1.4" --wait)
  sfp env unlock --ticket "$TICKET"`,
		Args: cmdutil.ExactArgs(1, "give the environment's name or id"),
		RunE: cmdutil.RunArgsE(opts, func(_ *cobra.Command, args []string) error {
			opts.Scope.Environment = args[0]
			if opts.Lease <= 0 || opts.Lease > maxLease {
				return cmdutil.FlagErrorf("--lease must be positive and at most 720h (30 days), not %s", opts.Lease)
			}
			return opts.Scope.Check(needEnv)
		}, runF, lockRun),
	}
	projectFlag(cmd, &opts.Scope)
	cmd.Flags().DurationVar(&opts.Lease, "lease", time.Hour, "How long to hold the environment once granted (e.g. 30m, 2h)")
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "Why you need it (shown in the queue)")
	cmd.Flags().BoolVar(&opts.Wait, "wait", false, "Wait until the ticket holds the environment")
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Lease{})
	return cmd
}

func lockRun(ctx context.Context, opts *LockOptions) error {
	return opts.WithTarget(ctx, opts.Scope, needEnv, func(c *client.Client, t *cmdutil.Target) error {
		l, err := c.Environments.Lock(ctx, t.Environment.ID, opts.Lease, opts.Reason)
		if err != nil {
			return err
		}
		if !l.Active() && opts.Wait {
			if l, err = waitForTurn(ctx, c, opts.IO, t.Environment, l); err != nil {
				return err
			}
		}
		if opts.JSON {
			return cmdutil.WriteJSON(opts.IO.Out, l)
		}
		if l.Active() {
			fmt.Fprintf(opts.IO.ErrOut, "You hold %s of %s until %s.\n", t.Environment.Name, t.Project.Identifier, cmdutil.FormatTimePtr(l.ExpiresAt))
		} else {
			fmt.Fprintf(opts.IO.ErrOut, "Queued for %s at position %s; watch the queue with `sfp env queue %s --project %s`.\n",
				t.Environment.Name, position(l), t.Environment.Name, t.Project.Identifier)
		}
		fmt.Fprintln(opts.IO.Out, l.Ticket)
		return nil
	})
}

// waitForTurn waits until the queued ticket holds the environment, printing
// its position as it moves. Interrupted, it gives the ticket back: a ticket
// nobody waits for would be granted to nobody.
func waitForTurn(ctx context.Context, c *client.Client, ios *cmdutil.IOStreams, e *client.Environment, l *client.Lease) (*client.Lease, error) {
	fmt.Fprintf(ios.ErrOut, "Ticket %s is queued for %s at position %s; waiting (Ctrl-C gives it back)…\n", l.Ticket, e.Name, position(l))
	last := -1
	granted, err := c.Environments.WaitForLease(ctx, l.Ticket, func(cur client.Lease) {
		if cur.QueuePosition != nil && *cur.QueuePosition != last {
			last = *cur.QueuePosition
			fmt.Fprintf(ios.ErrOut, "• position %d\n", last)
		}
	})
	if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, rerr := c.Environments.Unlock(rctx, l.Ticket); rerr == nil {
			fmt.Fprintf(ios.ErrOut, "Gave ticket %s back.\n", l.Ticket)
		}
	}
	return granted, err
}

// UnlockOptions are the inputs of `sfp env unlock`.
type UnlockOptions struct {
	cmdutil.Deps

	Ticket string
	JSON   bool
}

// NewCmdUnlock builds `sfp env unlock`.
func NewCmdUnlock(f *cmdutil.Factory, runF func(context.Context, *UnlockOptions) error) *cobra.Command {
	opts := &UnlockOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "unlock --ticket T",
		Short: "Give an environment back (or leave its queue)",
		Long: `Release a ticket that holds the environment (the next in line gets it), or
cancel a queued one.`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunArgsE(opts, func(_ *cobra.Command, _ []string) error {
			return checkTicket(opts.Ticket)
		}, runF, unlockRun),
	}
	ticketFlag(cmd, &opts.Ticket)
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Lease{})
	return cmd
}

func unlockRun(ctx context.Context, opts *UnlockOptions) error {
	return cmdutil.CallAndPrint(ctx, opts.Deps, opts.JSON, func(c *client.Client) (*client.Lease, error) {
		return c.Environments.Unlock(ctx, opts.Ticket)
	}, func(l *client.Lease) error {
		fmt.Fprintf(opts.IO.ErrOut, "Ticket %s is %s.\n", l.Ticket, l.Status)
		return nil
	})
}

// ExtendOptions are the inputs of `sfp env extend`.
type ExtendOptions struct {
	cmdutil.Deps

	Ticket string
	Lease  time.Duration
	JSON   bool
}

// NewCmdExtend builds `sfp env extend`.
func NewCmdExtend(f *cmdutil.Factory, runF func(context.Context, *ExtendOptions) error) *cobra.Command {
	opts := &ExtendOptions{Deps: f.UserDeps()}
	cmd := &cobra.Command{
		Use:   "extend --ticket T --lease 1h",
		Short: "Hold an environment longer",
		Long: `Hold the environment longer; a queued ticket will hold it longer once granted.
A finished ticket exits 6.`,
		Args: cmdutil.NoArgs,
		RunE: cmdutil.RunArgsE(opts, func(_ *cobra.Command, _ []string) error {
			if err := checkTicket(opts.Ticket); err != nil {
				return err
			}
			if opts.Lease <= 0 {
				return cmdutil.FlagErrorf("--lease must be positive")
			}
			return nil
		}, runF, extendRun),
	}
	ticketFlag(cmd, &opts.Ticket)
	cmd.Flags().DurationVar(&opts.Lease, "lease", time.Hour, "How much longer")
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Lease{})
	return cmd
}

func extendRun(ctx context.Context, opts *ExtendOptions) error {
	return cmdutil.CallAndPrint(ctx, opts.Deps, opts.JSON, func(c *client.Client) (*client.Lease, error) {
		return c.Environments.Extend(ctx, opts.Ticket, opts.Lease)
	}, func(l *client.Lease) error { return printExtended(opts.IO, l) })
}

// printExtended says how long the ticket holds, or will hold, the
// environment.
func printExtended(ios *cmdutil.IOStreams, l *client.Lease) error {
	if l.Active() {
		fmt.Fprintf(ios.ErrOut, "Ticket %s now holds the environment until %s.\n", l.Ticket, cmdutil.FormatTimePtr(l.ExpiresAt))
	} else {
		fmt.Fprintf(ios.ErrOut, "Ticket %s (%s) will hold the environment for %s once granted.\n", l.Ticket, l.Status, l.Lease)
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
