package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/pkg/cli/clidoc"
	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

var update = flag.Bool("update", false, "rewrite docs/cli.md from the command tree")

// referenceIntro opens docs/cli.md: what holds for every command. The
// rest of the file is the commands' own help text.
const referenceIntro = `
Every command, its flags with their defaults, examples and the fields of its
JSON output, as ` + "`sfp <command> --help`" + ` prints them. ` + "`sfp completion bash|zsh|fish`" + `
prints a completion script (e.g. ` + "`source <(sfp completion bash)`" + `). How sfp finds
the server, the session and the account, the output conventions and the exit
codes are in [usage.md](usage.md).

Roles: **viewer** reads the account's data (never credentials); **member** also
writes operational data; **owner** also manages members, integrations and
credentials, and deletes projects. Commands name the role they need in their
description; a refusal by role names the role needed and yours (exit 5).
`

func referencePath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "docs", "cli.md")
}

func reference(t *testing.T) []byte {
	t.Helper()
	ios, _, _, _ := cmdutil.Test()
	root := NewCmdRoot(&cmdutil.Factory{IOStreams: ios, Getenv: func(string) string { return "" }})
	var b bytes.Buffer
	if err := clidoc.Markdown(&b, root, referenceIntro); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// docs/cli.md is what the command tree says; -update rewrites it.
func TestCLIReference(t *testing.T) {
	want := reference(t)
	if *update {
		if err := os.WriteFile(referencePath(), want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(referencePath())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			g, w := line(gl, i), line(wl, i)
			if g != w {
				t.Fatalf("docs/cli.md is stale (line %d: has %q, the commands say %q); regenerate it with\n\tgo test ./pkg/cli -run TestCLIReference -update", i+1, g, w)
			}
		}
	}
}

func line(ls []string, i int) string {
	if i < len(ls) {
		return ls[i]
	}
	return ""
}
