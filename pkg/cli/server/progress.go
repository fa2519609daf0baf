package server

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sfp-dev/sfp/pkg/backup"
	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// byteProgress shows a backup's or restore's progress on stderr: a bar
// redrawn in place on a terminal, otherwise one line per phase (logs and
// pipes get no carriage returns).
type byteProgress struct {
	ios   *cmdutil.IOStreams
	mu    sync.Mutex
	phase string
	drawn time.Time
	bar   bool
}

func newByteProgress(ios *cmdutil.IOStreams) *byteProgress {
	return &byteProgress{ios: ios}
}

func (p *byteProgress) report(pr backup.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr.Phase != p.phase {
		p.finishLine()
		p.phase = pr.Phase
		if !p.ios.IsStderrTTY() {
			fmt.Fprintf(p.ios.ErrOut, "• %s%s\n", strings.ToUpper(pr.Phase[:1]), pr.Phase[1:])
			return
		}
	}
	if !p.ios.IsStderrTTY() || time.Since(p.drawn) < 100*time.Millisecond {
		return
	}
	p.drawn = time.Now()
	p.bar = true
	if pr.Total <= 0 {
		fmt.Fprintf(p.ios.ErrOut, "\r%-24s %10s", pr.Phase, humanBytes(pr.Done))
		return
	}
	frac := float64(pr.Done) / float64(pr.Total)
	if frac > 1 {
		frac = 1
	}
	const width = 30
	n := int(frac * width)
	fmt.Fprintf(p.ios.ErrOut, "\r%-24s [%s%s] %3.0f%% %s/%s ", pr.Phase, strings.Repeat("#", n), strings.Repeat(".", width-n),
		frac*100, humanBytes(pr.Done), humanBytes(pr.Total))
}

// finishLine ends a bar drawn in place.
func (p *byteProgress) finishLine() {
	if p.bar {
		fmt.Fprintln(p.ios.ErrOut)
		p.bar = false
	}
}

func (p *byteProgress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishLine()
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
