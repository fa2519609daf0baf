package server

import (
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/pkg/backup"
	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

func TestByteProgress(t *testing.T) {
	// Not a terminal: one line per phase, no carriage returns.
	ios, _, _, errOut := cmdutil.Test()
	p := newByteProgress(ios)
	for _, pr := range []backup.Progress{{Phase: "copying the database", Done: 1, Total: 10}, {Phase: "copying the database", Done: 10, Total: 10}, {Phase: "restoring", Done: 5}} {
		p.report(pr)
	}
	p.done()
	if got := errOut.String(); got != "• Copying the database\n• Restoring\n" {
		t.Errorf("progress off a terminal: %q", got)
	}
	// A terminal: a bar redrawn in place, ended by a newline.
	ios, _, _, errOut = cmdutil.Test()
	ios.SetTTY(false, false, true)
	p = newByteProgress(ios)
	p.report(backup.Progress{Phase: "copying the database", Done: 5 << 20, Total: 10 << 20})
	p.done()
	if got := errOut.String(); !strings.HasPrefix(got, "\r") || !strings.Contains(got, "50%") || !strings.Contains(got, "5.0 MiB/10.0 MiB") || !strings.HasSuffix(got, "\n") {
		t.Errorf("progress on a terminal: %q", got)
	}
}
