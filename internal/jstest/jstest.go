// Package jstest runs the official Supabase JavaScript clients (supabase-js,
// pinned in test/js/package.json) from Go tests, to check that the embedded
// runtime is wire-compatible with them.
//
// Setup installs the pinned packages once per checkout (npm ci, serialised
// across concurrently running test binaries with a file lock). A test that
// needs Node.js and cannot find it fails with a message saying how to
// install it.
package jstest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// Dir returns test/js in this checkout.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "test", "js")
}

// Setup makes sure node is available and test/js/node_modules matches
// package-lock.json, and returns test/js.
func Setup(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("this test runs the official supabase-js client and needs Node.js >= 20 and npm: " +
			"install them (Debian: apt-get install -y nodejs npm) and put node on PATH")
	}
	dir := Dir()
	if err := install(dir); err != nil {
		t.Fatalf("jstest: %v", err)
	}
	return dir
}

func install(dir string) error {
	lockPath := filepath.Join(dir, "package-lock.json")
	lock, err := os.ReadFile(lockPath)
	if err != nil {
		return fmt.Errorf("read %s: %w", lockPath, err)
	}
	sum := sha256.Sum256(lock)
	want := hex.EncodeToString(sum[:])
	stamp := filepath.Join(dir, "node_modules", ".sfp-installed")
	if got, err := os.ReadFile(stamp); err == nil && string(got) == want {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(dir, ".install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock npm install: %w", err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck
	if got, err := os.ReadFile(stamp); err == nil && string(got) == want {
		return nil // another test binary installed it while we waited
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out.String())
	}
	return os.WriteFile(stamp, []byte(want), 0o644)
}

// Run runs a JavaScript module (ES module syntax) with node in test/js, with
// env added to the environment, and returns its stdout. A non-zero exit fails
// the test with the script's stderr.
func Run(t testing.TB, script string, env map[string]string) []byte {
	t.Helper()
	dir := Setup(t)
	f, err := os.CreateTemp(dir, ".script-*.mjs")
	if err != nil {
		t.Fatal(err)
	}
	name := f.Name()
	defer os.Remove(name)
	if _, err := f.WriteString(script); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cmd := exec.Command("node", filepath.Base(name))
	cmd.Dir = dir
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
		err = fmt.Errorf("timed out after 2 minutes")
	}
	if err != nil {
		t.Fatalf("node script failed: %v\nstderr:\n%s\nstdout:\n%s", err, stderr.String(), stdout.String())
	}
	return stdout.Bytes()
}
