package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Runner runs an external program and waits for it. The docker runtime
// speaks to Docker only through a Runner: ExecRunner in production, a fake
// in tests (this machine, like many CI hosts, has no Docker engine).
type Runner interface {
	Run(ctx context.Context, cmd Cmd) (Result, error)
}

// Cmd is one program invocation.
type Cmd struct {
	// Args is the command line; Args[0] is the program ("docker").
	Args []string
	// Dir is the working directory; empty means the current one.
	Dir string
	// Stdout and Stderr, when set, receive the output as it is written
	// (logs --follow, a migration run); otherwise it is captured in Result.
	Stdout, Stderr io.Writer
	// Stdin, when set, is the program's input (a cluster streamed into the
	// db volume by a restore).
	Stdin io.Reader
}

func (c Cmd) String() string { return strings.Join(c.Args, " ") }

// Result is what a finished program wrote (the streams not sent elsewhere).
type Result struct {
	Stdout []byte
	// Stderr holds the end of the error stream (at most 64 KiB) even when
	// Cmd.Stderr was set, so errors can quote it.
	Stderr []byte
}

// ExitError is a program that ran and exited with a non-zero status.
type ExitError struct {
	Args   []string
	Code   int
	Stderr string // the end of its error output, trimmed
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s exited with status %d", strings.Join(e.Args, " "), e.Code)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

// ErrProgramNotFound is wrapped by the error a Runner returns when the
// program is not installed (not in PATH).
var ErrProgramNotFound = exec.ErrNotFound

// ExecRunner runs programs with os/exec. When ctx is cancelled the program
// gets SIGINT first, as a terminal user would send, so docker compose can
// finish what it is doing; it is killed if it has not exited after
// GracePeriod.
type ExecRunner struct {
	// GracePeriod between SIGINT and SIGKILL; default 10 s.
	GracePeriod time.Duration
	// Env, when set, replaces the environment of the programs (tests);
	// default: this process's environment.
	Env []string
}

const stderrKeep = 64 << 10

// Run implements Runner.
func (r ExecRunner) Run(ctx context.Context, c Cmd) (Result, error) {
	if len(c.Args) == 0 {
		return Result{}, errors.New("run: empty command")
	}
	path, err := exec.LookPath(c.Args[0])
	if err != nil {
		return Result{}, fmt.Errorf("run %s: %w", c.Args[0], err)
	}
	cmd := exec.CommandContext(ctx, path, c.Args[1:]...)
	cmd.Dir = c.Dir
	cmd.Stdin = c.Stdin
	if r.Env != nil {
		cmd.Env = r.Env
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = r.GracePeriod
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = 10 * time.Second
	}
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: stderrKeep}
	if c.Stdout != nil {
		cmd.Stdout = c.Stdout
	} else {
		cmd.Stdout = &stdout
	}
	if c.Stderr != nil {
		cmd.Stderr = io.MultiWriter(c.Stderr, stderr)
	} else {
		cmd.Stderr = stderr
	}
	err = cmd.Run()
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		return res, &ExitError{Args: c.Args, Code: ee.ExitCode(), Stderr: strings.TrimSpace(string(res.Stderr))}
	}
	if err != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("%s: %w", c, ctx.Err())
		}
		return res, fmt.Errorf("%s: %w", c, err)
	}
	return res, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf)
}
