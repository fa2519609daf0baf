package backup

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

var progressRE = regexp.MustCompile(`(\d+)/(\d+) kB`)

// runTool runs a PostgreSQL client program with the superuser's password
// in its environment (never on its command line), relaying its --progress
// lines, handing its standard output to consume (if set), and returning its
// last lines of output on failure. It dies with sfp (a killed backup leaves
// no copy running), and is stopped if consume fails.
func runTool(ctx context.Context, bin string, args []string, password, phase string, progress func(Progress), consume func(io.Reader) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C.UTF-8", "TZ=UTC", "PGPASSWORD=" + password, "PGCONNECT_TIMEOUT=30"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	var stdout io.ReadCloser
	if consume != nil {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			return err
		}
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	tailc := make(chan []string, 1)
	go func() { tailc <- relayProgress(stderr, phase, progress) }()
	var cerr error
	if consume != nil {
		if cerr = consume(stdout); cerr != nil {
			cancel()
		}
		io.Copy(io.Discard, stdout)
	}
	tail := <-tailc
	werr := cmd.Wait()
	switch {
	case cerr != nil:
		return cerr
	case werr != nil && ctx.Err() != nil:
		return ctx.Err()
	case werr != nil:
		return fmt.Errorf("%w: %s", werr, strings.Join(tail, "; "))
	}
	return nil
}

// relayProgress reports the --progress lines of a tool and returns its
// other last lines.
func relayProgress(stderr io.Reader, phase string, progress func(Progress)) []string {
	var tail []string
	sc := bufio.NewScanner(stderr)
	sc.Split(splitLines)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := progressRE.FindStringSubmatch(line); m != nil {
			done, _ := strconv.ParseInt(m[1], 10, 64)
			total, _ := strconv.ParseInt(m[2], 10, 64)
			if progress != nil {
				progress(Progress{Phase: phase, Done: done << 10, Total: total << 10})
			}
			continue
		}
		if line != "" {
			tail = append(tail, line)
			if len(tail) > 10 {
				tail = tail[1:]
			}
		}
	}
	return tail
}

// splitLines splits at \n or \r (progress lines on a terminal end in \r).
func splitLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}
