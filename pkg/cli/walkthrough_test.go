package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/sfptest"
)

// walkthroughScript turns the walkthrough section of README.md into one
// bash script: ```bash blocks run in order in the first shell; a ```bash
// worker block is the second shell, started in the background where it
// appears, and waited for at the end.
func walkthroughScript(t *testing.T, doc string) string {
	t.Helper()
	start := strings.Index(doc, "<!-- walkthrough -->")
	end := strings.Index(doc, "<!-- /walkthrough -->")
	if start < 0 || end < start {
		t.Fatal("README.md has no <!-- walkthrough --> … <!-- /walkthrough --> section")
	}
	var script strings.Builder
	script.WriteString("set -euo pipefail\nworkers=()\n")
	sc := bufio.NewScanner(strings.NewReader(doc[start:end]))
	var block []string
	kind, blocks := "", 0
	for sc.Scan() {
		line := sc.Text()
		switch {
		case kind == "" && strings.HasPrefix(line, "```bash"):
			kind = strings.TrimSpace(strings.TrimPrefix(line, "```bash"))
			if kind == "" {
				kind = "main"
			}
			block = nil
		case kind != "" && line == "```":
			blocks++
			body := strings.Join(block, "\n")
			fmt.Fprintf(&script, "echo '>>> block %d (%s)' >&2\n", blocks, kind)
			switch kind {
			case "main":
				script.WriteString(body + "\n")
			case "worker":
				fmt.Fprintf(&script, "( set -euo pipefail\n%s\n) > worker-%d.log 2>&1 &\nworkers+=($!)\n", body, blocks)
			default:
				t.Fatalf("unknown block kind %q", kind)
			}
			kind = ""
		case kind != "":
			block = append(block, line)
		}
	}
	if blocks < 10 {
		t.Fatalf("only %d shell blocks in the walkthrough", blocks)
	}
	script.WriteString("for w in \"${workers[@]}\"; do wait \"$w\"; done\necho 'walkthrough done' >&2\n")
	return script.String()
}

// The walkthrough in README.md, executed as written with the built sfp
// binary on a fresh machine state (an empty directory, no configuration).
func TestWalkthroughInDocsRunsAsWritten(t *testing.T) {
	t.Parallel()
	_, file, _, _ := runtime.Caller(0)
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	script := walkthroughScript(t, string(raw))
	bin := sfptest.Binary(t)
	dir := sfptest.BaseDir(t)
	env := []string{
		"PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + dir,
		"SFP_CONFIG_DIR=" + filepath.Join(dir, ".config", "sfp"),
		"SFP_PORT_START=" + sfptest.PortStart(dir),
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "PATH" || k == "HOME" || strings.HasPrefix(k, "SFP_") {
			continue
		}
		env = append(env, kv)
	}
	t.Cleanup(func() {
		stop := exec.Command(bin, "server", "stop", "-t", "demo")
		stop.Dir, stop.Env = dir, env
		stop.Run()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir, cmd.Env = dir, env
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var workerLog []byte
	logs, _ := filepath.Glob(filepath.Join(dir, "worker-*.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		workerLog = append(workerLog, b...)
	}
	if err != nil {
		t.Fatalf("walkthrough failed: %v\nscript:\n%s\nstdout:\n%s\nstderr:\n%s\nworker:\n%s", err, script, out.String(), errOut.String(), workerLog)
	}
	for _, want := range []string{"Logged in to", "Created account acme", "You hold staging", "deployment", "succeeded: deployed",
		"Stored notes/release-1.4 at version 2", "walkthrough done"} {
		if !strings.Contains(errOut.String(), want) {
			t.Fatalf("stderr lacks %q\n%s", want, errOut.String())
		}
	}
	if !strings.Contains(out.String(), `"ready": true`) {
		t.Fatalf("doc get did not print the document\n%s", out.String())
	}
}
