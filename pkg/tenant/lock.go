package tenant

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrRunning matches (errors.Is) the error of starting a tenant that
// another process runs (Lock returns a *RunningError). Callers wrap it after
// saying that the tenant runs ("tenant "x" is already running (pid N): …"),
// so its text is the advice that completes such a message, not a second
// "already running".
var ErrRunning = errors.New("stop it first with `sfp server stop`")

// RunningError says which process runs the tenant and how to stop it. Its
// message is whole: wrapping it in "already running" again would say it
// twice.
type RunningError struct {
	Tenant string
	PID    int
}

func (e *RunningError) Error() string {
	return fmt.Sprintf("tenant %q is already running (pid %d); stop it with `sfp server stop -t %s`", e.Tenant, e.PID, e.Tenant)
}

// Is makes errors.Is(err, ErrRunning) hold.
func (e *RunningError) Is(target error) bool { return target == ErrRunning }

// RunLock is the exclusive lock a running tenant process holds. The kernel
// releases it when the process dies, however it dies, so a crash never
// leaves a lock behind; the pid file next to it is only informative.
type RunLock struct {
	f *os.File
	t *Tenant
}

// Lock takes the tenant's run lock and writes the pid file.
func (t *Tenant) Lock() (*RunLock, error) {
	if err := os.MkdirAll(t.RunDir(), 0o700); err != nil {
		return nil, fmt.Errorf("lock tenant: %w", err)
	}
	f, err := os.OpenFile(t.LockFile(), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock tenant: %w", err)
	}
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	// A process that was just killed may hold the lock for a few more
	// milliseconds while the kernel tears it down: wait for it, but only
	// while the pid file names a process that is gone or dying.
	for i := 0; i < 100 && errors.Is(err, syscall.EWOULDBLOCK); i++ {
		if pid, ok := t.Pid(); ok && processLive(pid) {
			break
		}
		time.Sleep(50 * time.Millisecond)
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid, _ := t.Pid()
			return nil, &RunningError{Tenant: t.Config.Name, PID: pid}
		}
		return nil, fmt.Errorf("lock tenant: %w", err)
	}
	if err := writeFileAtomic(t.PidFile(), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		f.Close()
		return nil, err
	}
	return &RunLock{f: f, t: t}, nil
}

// processLive reports whether pid is a running process (not a zombie).
func processLive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(st), ')')
	return i < 0 || i+2 >= len(st) || (st[i+2] != 'Z' && st[i+2] != 'X')
}

// Release removes the pid file and state and releases the lock.
func (l *RunLock) Release() {
	os.Remove(l.t.PidFile())
	os.Remove(l.t.StateFile())
	l.f.Close()
}

// Pid returns the pid in the pid file, if any.
func (t *Tenant) Pid() (int, bool) {
	raw, err := os.ReadFile(t.PidFile())
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	return pid, err == nil && pid > 0
}

// Running reports whether a process holds the tenant's run lock, and its pid.
func (t *Tenant) Running() (bool, int) { return isRunning(t.Dir) }

func isRunning(dir string) (bool, int) {
	f, err := os.OpenFile(dir+"/run/lock", os.O_RDWR, 0)
	if err != nil {
		return false, 0
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	raw, _ := os.ReadFile(dir + "/run/sfp.pid")
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	// As in Lock: a holder that is dying releases the lock in a moment.
	for i := 0; i < 100 && errors.Is(err, syscall.EWOULDBLOCK) && !processLive(pid); i++ {
		time.Sleep(50 * time.Millisecond)
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err != nil {
		return true, pid
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck
	return false, 0
}
