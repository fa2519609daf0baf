// Package sfptest builds the sfp binary once per test binary and runs it as
// a user would: a real process, real flags, real files.
package sfptest

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/sfp (once) and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sfp-bin-")
		if err != nil {
			buildErr = err
			return
		}
		os.Chmod(dir, 0o755)
		binPath = filepath.Join(dir, "sfp")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/sfp")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/sfp: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// BaseDir returns a fresh base directory that the postgres system user can
// traverse (t.TempDir is 0700).
func BaseDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sfp-base-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// PortStart is where the tenants of one test pick their ports
// (SFP_PORT_START): a range derived from seed (the base directory) below
// the kernel's ephemeral ports, so that tests in other packages, running
// at the same time and each starting tenants, do not all try 54321 and
// take each other's ports between init and start.
func PortStart(seed string) string {
	h := fnv.New32a()
	h.Write([]byte(seed))
	return strconv.Itoa(20000 + int(h.Sum32()%1200)*10)
}

// Result is a finished sfp run.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Env is the environment for sfp runs; SFP_BASE_DIR is set by Run.
type Env map[string]string

// Run runs sfp with args in base and waits (at most 5 minutes).
func Run(t testing.TB, base string, env Env, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := Command(ctx, t, base, env, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run sfp %v: %v", args, err)
	}
	return Result{Stdout: out.String(), Stderr: errOut.String(), Code: code}
}

// Command returns an unstarted sfp command.
func Command(ctx context.Context, t testing.TB, base string, env Env, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, Binary(t), args...)
	cmd.Dir = base
	cmd.Env = append(os.Environ(), "SFP_BASE_DIR="+base, "SFP_PORT_START="+PortStart(base))
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// MustRun runs sfp and fails the test unless it exits 0.
func MustRun(t testing.TB, base string, env Env, args ...string) Result {
	t.Helper()
	r := Run(t, base, env, args...)
	if r.Code != 0 {
		t.Fatalf("sfp %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r
}
