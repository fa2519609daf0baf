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
	IO     *cmdutil.IOStreams
	Client cmdutil.ClientFunc
	Config cmdutil.ConfigFunc

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
	opts := &LockOptions{IO: f.IOStreams, Client: f.UserClient, Config: f.Config}
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
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Scope.Environment = args[0]
			if opts.Lease <= 0 || opts.Lease > maxLease {
				return cmdutil.FlagErrorf("--lease must be positive and at most 720h (30 days), not %s", opts.Lease)
			}
			if err := opts.Scope.Check(needEnv); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return lockRun(cmd.Context(), opts)
		},
	}
	projectFlag(cmd, &opts.Scope)
	cmd.Flags().DurationVar(&opts.Lease, "lease", time.Hour, "How long to hold the environment once granted (e.g. 30m, 2h)")
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "Why you need it (shown in the queue)")
	cmd.Flags().BoolVar(&opts.Wait, "wait", false, "Wait until the ticket holds the environment")
	cmdutil.JSONFlag(cmd, &opts.JSON, "", client.Lease{})
	return cmd
}

func lockRun(ctx context.Context, opts *LockOptions) error {
	c, t, err := opts.Scope.Open(ctx, opts.Client, opts.Config, needEnv)
	if err != nil {
		return err
	}
	defer c.Close()
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
