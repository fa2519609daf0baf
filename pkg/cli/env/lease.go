package env

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// LockOptions are the inputs of `sfp env lock`.
type LockOptions struct {
	Options
	Lease  time.Duration
	Reason string
	Wait   bool
}

// NewCmdLock builds `sfp env lock`.
func NewCmdLock(f *cmdutil.Factory, runF func(context.Context, *LockOptions) error) *cobra.Command {
	opts := &LockOptions{Options: Options{IO: f.IOStreams}}
	cmd := &cobra.Command{
		Use:   "lock NAME --project P --lease 2h --reason R [--wait]",
		Short: "Take an environment (queue a ticket for it)",
		Long: `Queue a ticket for the environment. If nobody holds it, the ticket holds it at
once for --lease; otherwise it waits in line. With --wait the command waits
until the ticket holds the environment (Ctrl-C gives the ticket back).

The ticket id is printed on stdout: give it to 'sfp env unlock --ticket'.`,
		Example: `  TICKET=$(sfp env lock staging --project acme/web --lease 2h --reason "release 1.4" --wait)
  sfp env unlock --ticket "$TICKET"`,
		Args: cmdutil.ExactArgs(1, "give the environment's name or id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Lease <= 0 || opts.Lease > 30*24*time.Hour {
				return cmdutil.FlagErrorf("--lease must be positive and at most 720h (30 days), not %s", opts.Lease)
			}
			if runF != nil {
				opts.Name = args[0]
				if opts.Project == "" {
					return cmdutil.FlagErrorf("which project? pass --project IDENTIFIER (org/repo) or id")
				}
				return runF(cmd.Context(), opts)
			}
			return run(f, &opts.Options, true, nil, func(ctx context.Context, t *target) error {
				return lockRun(ctx, t, opts)
			})(cmd, args)
		},
	}
	projectFlags(cmd, &opts.Options)
	cmd.Flags().DurationVar(&opts.Lease, "lease", time.Hour, "How long to hold the environment once granted (e.g. 30m, 2h)")
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "Why you need it (shown in the queue)")
	cmd.Flags().BoolVar(&opts.Wait, "wait", false, "Wait until the ticket holds the environment")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

func lockRun(ctx context.Context, t *target, opts *LockOptions) error {
	l, err := t.c.Environments.Lock(ctx, t.env.ID, opts.Lease, opts.Reason)
	if err != nil {
		return err
	}
	if !l.Active() && opts.Wait {
		fmt.Fprintf(opts.IO.ErrOut, "Ticket %s is queued for %s at position %s; waiting (Ctrl-C gives it back)…\n",
			l.Ticket, t.env.Name, position(l))
		last := -1
		granted, err := t.c.Environments.WaitForLease(ctx, l.Ticket, func(cur client.Lease) {
			if cur.QueuePosition != nil && *cur.QueuePosition != last {
				last = *cur.QueuePosition
				fmt.Fprintf(opts.IO.ErrOut, "• position %d\n", last)
			}
		})
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				// Do not leave a ticket that would be granted to nobody.
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				defer cancel()
				if _, rerr := t.c.Environments.Unlock(rctx, l.Ticket); rerr == nil {
					fmt.Fprintf(opts.IO.ErrOut, "Gave ticket %s back.\n", l.Ticket)
				}
			}
			return err
		}
		l = granted
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, l)
	}
	if l.Active() {
		fmt.Fprintf(opts.IO.ErrOut, "You hold %s of %s until %s.\n", t.env.Name, t.project.Identifier, cmdutil.FormatTimePtr(l.ExpiresAt))
	} else {
		fmt.Fprintf(opts.IO.ErrOut, "Queued for %s at position %s; watch the queue with `sfp env queue %s --project %s`.\n",
			t.env.Name, position(l), t.env.Name, t.project.Identifier)
	}
	fmt.Fprintln(opts.IO.Out, l.Ticket)
	return nil
}

func position(l *client.Lease) string {
	if l.QueuePosition == nil {
		return "-"
	}
	return strconv.Itoa(*l.QueuePosition)
}

// TicketOptions are the inputs of `sfp env unlock` and `sfp env extend`.
type TicketOptions struct {
	IO     *cmdutil.IOStreams
	Ticket string
	Lease  time.Duration
	JSON   bool
}

func ticketCmd(f *cmdutil.Factory, opts *TicketOptions, runF func(context.Context, *TicketOptions) error,
	fn func(ctx context.Context, c *client.Client) (*client.Lease, error), done func(*client.Lease)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if opts.Ticket == "" {
			return cmdutil.FlagErrorf("which ticket? pass --ticket T (printed by `sfp env lock`)")
		}
		if !client.IsUUID(opts.Ticket) {
			return cmdutil.FlagErrorf("--ticket %q is not a ticket id (a UUID)", opts.Ticket)
		}
		if runF != nil {
			return runF(cmd.Context(), opts)
		}
		ctx := cmd.Context()
		c, _, err := f.UserClient(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		l, err := fn(ctx, c)
		if err != nil {
			return err
		}
		if opts.JSON {
			return cmdutil.WriteJSON(opts.IO.Out, l)
		}
		done(l)
		return nil
	}
}

// NewCmdUnlock builds `sfp env unlock`.
func NewCmdUnlock(f *cmdutil.Factory, runF func(context.Context, *TicketOptions) error) *cobra.Command {
	opts := &TicketOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "unlock --ticket T",
		Short: "Give an environment back (or leave its queue)",
		Args:  cmdutil.NoArgs,
		RunE: ticketCmd(f, opts, runF, func(ctx context.Context, c *client.Client) (*client.Lease, error) {
			return c.Environments.Unlock(ctx, opts.Ticket)
		}, func(l *client.Lease) {
			fmt.Fprintf(opts.IO.ErrOut, "Ticket %s is %s.\n", l.Ticket, l.Status)
		}),
	}
	cmd.Flags().StringVar(&opts.Ticket, "ticket", "", "The `TICKET` printed by 'sfp env lock'")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

// NewCmdExtend builds `sfp env extend`.
func NewCmdExtend(f *cmdutil.Factory, runF func(context.Context, *TicketOptions) error) *cobra.Command {
	opts := &TicketOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "extend --ticket T --lease 1h",
		Short: "Hold an environment longer",
		Args:  cmdutil.NoArgs,
		RunE: ticketCmd(f, opts, runF, func(ctx context.Context, c *client.Client) (*client.Lease, error) {
			if opts.Lease <= 0 {
				return nil, cmdutil.FlagErrorf("--lease must be positive")
			}
			return c.Environments.Extend(ctx, opts.Ticket, opts.Lease)
		}, func(l *client.Lease) {
			if l.Active() {
				fmt.Fprintf(opts.IO.ErrOut, "Ticket %s now holds the environment until %s.\n", l.Ticket, cmdutil.FormatTimePtr(l.ExpiresAt))
			} else {
				fmt.Fprintf(opts.IO.ErrOut, "Ticket %s (%s) will hold the environment for %s once granted.\n", l.Ticket, l.Status, l.Lease)
			}
		}),
	}
	cmd.Flags().StringVar(&opts.Ticket, "ticket", "", "The `TICKET` printed by 'sfp env lock'")
	cmd.Flags().DurationVar(&opts.Lease, "lease", time.Hour, "How much longer")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}

// NewCmdQueue builds `sfp env queue`.
func NewCmdQueue(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "queue NAME --project P",
		Short: "Show who holds an environment and who waits for it",
		Args:  cmdutil.ExactArgs(1, "give the environment's name or id"),
		RunE: run(f, opts, true, runF, func(ctx context.Context, t *target) error {
			q, err := t.c.Environments.Queue(ctx, t.env.ID)
			if err != nil {
				return err
			}
			if opts.JSON {
				return cmdutil.WriteJSON(opts.IO.Out, q)
			}
			if len(q) == 0 {
				fmt.Fprintf(opts.IO.ErrOut, "Nobody holds or waits for %s.\n", t.env.Name)
				return nil
			}
			tb := cmdutil.NewTable(opts.IO.Out, "POSITION", "TICKET", "STATUS", "LEASE", "REQUESTED", "EXPIRES", "REASON")
			for _, l := range q {
				tb.Row(position(&l), l.Ticket, l.Status, l.Lease, cmdutil.FormatTime(l.RequestedAt), cmdutil.FormatTimePtr(l.ExpiresAt), l.Reason)
			}
			return tb.Flush()
		}),
	}
	projectFlags(cmd, opts)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "Output JSON")
	return cmd
}
