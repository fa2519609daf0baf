package cmdutil

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/client"
)

// WatchEvent is one line of `sfp task watch --json` and `sfp deployment
// watch --json`: the resource's state after a change.
type WatchEvent struct {
	Event        string    `json:"event"` // snapshot, INSERT, UPDATE, DELETE
	ResourceType string    `json:"resource_type"`
	ID           string    `json:"id"`
	Status       string    `json:"status"`
	Progress     int       `json:"progress"`
	Message      string    `json:"message,omitempty"`
	Final        bool      `json:"final"`
	Time         time.Time `json:"time"`
}

// FollowWatch prints a watch until it ends: with asJSON one compact JSON
// event per line on stdout; otherwise status messages on stderr and, on a
// terminal, a progress bar. It returns nil when the resource succeeded, an
// ExitError with ExitFailed when it failed, was cancelled or was deleted,
// and the watch's error otherwise.
func FollowWatch(ctx context.Context, ios *IOStreams, w *client.Watch, label string, asJSON bool) error {
	defer w.Close()
	p := newWatchPrinter(ios, label, asJSON)
	var last client.Update
	for u := range w.Updates() {
		last = u
		if err := p.print(u); err != nil {
			return err
		}
	}
	p.end()
	if err := w.Err(); err != nil {
		return err
	}
	if !last.Final {
		if err := ctx.Err(); err != nil {
			return err
		}
		return errors.New("the watch ended before a final state")
	}
	return watchOutcome(ios, last, label, asJSON)
}

// watchOutcome turns the final update into the exit status.
func watchOutcome(ios *IOStreams, last client.Update, label string, asJSON bool) error {
	switch {
	case last.Event == "DELETE":
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("%s was deleted", label)}
	case last.Status == client.StatusSucceeded:
		if !asJSON {
			fmt.Fprintf(ios.ErrOut, "✓ %s succeeded\n", label)
		}
		return nil
	case asJSON:
		return &ExitError{Code: ExitFailed}
	}
	msg := fmt.Sprintf("%s %s", label, last.Status)
	if last.Message != "" {
		msg += ": " + last.Message
	}
	return &ExitError{Code: ExitFailed, Err: errors.New(msg)}
}

// watchPrinter prints the updates of a watch.
type watchPrinter struct {
	ios      *IOStreams
	label    string
	enc      *json.Encoder // --json
	bar      bool          // stderr is a terminal
	drawn    bool          // a bar is on the current line
	lastLine string
}

func newWatchPrinter(ios *IOStreams, label string, asJSON bool) *watchPrinter {
	p := &watchPrinter{ios: ios, label: label, bar: !asJSON && ios.IsStderrTTY()}
	if asJSON {
		p.enc = json.NewEncoder(ios.Out)
		p.enc.SetEscapeHTML(false)
	}
	return p
}

func (p *watchPrinter) print(u client.Update) error {
	if p.enc != nil {
		if err := p.enc.Encode(WatchEvent{Event: u.Event, ResourceType: string(u.ResourceType), ID: u.ID, Status: u.Status,
			Progress: u.Progress, Message: u.Message, Final: u.Final, Time: u.Time}); err != nil {
			return fmt.Errorf("write event: %w", err)
		}
		return nil
	}
	line := fmt.Sprintf("%s %s", p.label, u.Status)
	if u.Message != "" {
		line += ": " + u.Message
	}
	switch {
	case p.bar:
		// A changed status goes on its own line above the bar; the bar is
		// then drawn once, from this update alone, so that the status and
		// the percentage on screen always come from the same update.
		if line != p.lastLine {
			p.clearBar()
			fmt.Fprintf(p.ios.ErrOut, "• %s\n", line)
		}
		p.drawBar(u)
	case line != p.lastLine || u.Final:
		fmt.Fprintf(p.ios.ErrOut, "[%3d%%] %s\n", u.Progress, line)
	}
	p.lastLine = line
	return nil
}

// barWidth is the number of cells of the progress bar.
const barWidth = 30

// drawBar redraws the current line: label, status, bar and percentage.
func (p *watchPrinter) drawBar(u client.Update) {
	pct := min(max(u.Progress, 0), 100)
	full := pct * barWidth / 100
	cells := strings.Repeat("=", full)
	if full < barWidth {
		cells += ">" + strings.Repeat(" ", barWidth-full-1)
	}
	fmt.Fprintf(p.ios.ErrOut, "\r\x1b[K%s %s [%s] %3d%%", p.label, u.Status, cells, pct)
	p.drawn = true
}

func (p *watchPrinter) clearBar() {
	if p.drawn {
		fmt.Fprint(p.ios.ErrOut, "\r\x1b[K")
		p.drawn = false
	}
}

// end leaves the last bar on screen and moves below it.
func (p *watchPrinter) end() {
	if p.drawn {
		fmt.Fprintln(p.ios.ErrOut)
		p.drawn = false
	}
}

// WatchOptions are the inputs of `sfp deployment watch` and `sfp task
// watch`, which differ only in what they follow.
type WatchOptions struct {
	Deps
	// Kind is what is followed ("deployment", "task"), for messages.
	Kind string
	// Start opens the watch of the resource with id.
	Start func(ctx context.Context, c *client.Client, id string) (*client.Watch, error)

	ID   string
	JSON bool
}

// NewCmdWatch completes cmd, which holds the help text, into the watch
// command of opts.Kind.
func NewCmdWatch(cmd *cobra.Command, opts *WatchOptions, runF func(context.Context, *WatchOptions) error) *cobra.Command {
	cmd.Args = ExactArgs(1, fmt.Sprintf("give the %s's id", opts.Kind))
	cmd.RunE = RunArgsE(opts, IDArg(opts.Kind, &opts.ID), runF, watchRun)
	JSONFlag(cmd, &opts.JSON, "Stream JSON events, one per line", WatchEvent{})
	return cmd
}

func watchRun(ctx context.Context, opts *WatchOptions) error {
	return opts.WithClient(ctx, func(c *client.Client) error {
		w, err := opts.Start(ctx, c, opts.ID)
		if err != nil {
			return err
		}
		return FollowWatch(ctx, opts.IO, w, opts.Kind+" "+ShortID(opts.ID), opts.JSON)
	})
}
