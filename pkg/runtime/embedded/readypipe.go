package embedded

import (
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// readyFDEnv names the descriptor on which a detached child tells its
// parent that it is ready (see passReadyPipe).
const readyFDEnv = "SFP_READY_FD"

// passReadyPipe gives the detached child the write end of a pipe. The child
// writes to it once its state file says ready, so the waiting parent reads
// the state file at that moment instead of at its next poll (every 50ms);
// the state file stays what the parent trusts. The returned channel is
// closed on the child's first write, or once every copy of the write end is
// closed (the child exited). Call started after cmd.Start, whatever it
// returned: it closes the parent's copy of the write end; and stop once the
// parent stops waiting: it closes the read end.
func passReadyPipe(cmd *exec.Cmd) (woken <-chan struct{}, started, stop func(), err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, nil, err
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, w)
	// ExtraFiles[i] is descriptor 3+i in the child.
	cmd.Env = append(cmd.Env, readyFDEnv+"="+strconv.Itoa(2+len(cmd.ExtraFiles)))
	ch := make(chan struct{})
	go func() {
		var b [1]byte
		_, _ = r.Read(b[:]) // returns when r is closed, too
		close(ch)
	}()
	return ch, func() { w.Close() }, func() { r.Close() }, nil
}

// readyWriter is the child's end of the ready pipe; nil when the process
// was not started by a detached parent.
type readyWriter struct{ f *os.File }

// readyNotifier takes the ready pipe the detached parent passed, if any,
// marking it close-on-exec so that PostgreSQL, started later, does not
// inherit it.
func readyNotifier() *readyWriter {
	v := os.Getenv(readyFDEnv)
	if v == "" {
		return nil
	}
	os.Unsetenv(readyFDEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil
	}
	syscall.CloseOnExec(fd)
	return &readyWriter{f: os.NewFile(uintptr(fd), "ready-pipe")}
}

// ready tells the parent to look at the state file now.
func (w *readyWriter) ready() {
	if w == nil {
		return
	}
	_, _ = io.WriteString(w.f, "r")
}

// Close closes the child's end.
func (w *readyWriter) Close() error {
	if w == nil {
		return nil
	}
	return w.f.Close()
}
