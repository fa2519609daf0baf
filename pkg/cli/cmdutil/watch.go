package cmdutil

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"

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
	var bar *progressbar.ProgressBar
	if !asJSON && ios.IsStderrTTY() {
		bar = progressbar.NewOptions(100,
			progressbar.OptionSetWriter(ios.ErrOut),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetDescription(label))
	}
	enc := json.NewEncoder(ios.Out)
	enc.SetEscapeHTML(false)
	var last client.Update
	var lastLine string
	for u := range w.Updates() {
		last = u
		if asJSON {
			if err := enc.Encode(WatchEvent{Event: u.Event, ResourceType: string(u.ResourceType), ID: u.ID, Status: u.Status,
				Progress: u.Progress, Message: u.Message, Final: u.Final, Time: u.Time}); err != nil {
				return fmt.Errorf("write event: %w", err)
			}
			continue
		}
		line := fmt.Sprintf("%s %s", label, u.Status)
		if u.Message != "" {
			line += ": " + u.Message
		}
		if bar != nil {
			if line != lastLine {
				bar.Clear()
				fmt.Fprintf(ios.ErrOut, "• %s\n", line)
			}
			bar.Set(u.Progress)
			bar.Describe(fmt.Sprintf("%s %s", label, u.Status))
		} else if line != lastLine || u.Final {
			fmt.Fprintf(ios.ErrOut, "[%3d%%] %s\n", u.Progress, line)
		}
		lastLine = line
	}
	if bar != nil {
		bar.Exit()
		fmt.Fprintln(ios.ErrOut)
	}
	if err := w.Err(); err != nil {
		return err
	}
	if !last.Final {
		if err := ctx.Err(); err != nil {
			return err
		}
		return errors.New("the watch ended before a final state")
	}
	switch {
	case last.Event == "DELETE":
		return &ExitError{Code: ExitFailed, Err: fmt.Errorf("%s was deleted", label)}
	case last.Status == client.StatusSucceeded:
		if !asJSON {
			fmt.Fprintf(ios.ErrOut, "✓ %s succeeded\n", label)
		}
		return nil
	default:
		msg := fmt.Sprintf("%s %s", label, last.Status)
		if last.Message != "" {
			msg += ": " + last.Message
		}
		if asJSON {
			return &ExitError{Code: ExitFailed}
		}
		return &ExitError{Code: ExitFailed, Err: errors.New(msg)}
	}
}
