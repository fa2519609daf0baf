package cli

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// README.md documents every command and every flag of it.
func TestDocsCoverEveryCommandAndFlag(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	ios, _, _, _ := cmdutil.Test()
	root := NewCmdRoot(&cmdutil.Factory{IOStreams: ios, Getenv: func(string) string { return "" }})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.HasSubCommands() || !c.Runnable() {
			return
		}
		path := strings.TrimPrefix(c.CommandPath(), "sfp ")
		if strings.HasPrefix(path, "completion") || strings.HasPrefix(path, "help") {
			return // cobra's own
		}
		if !strings.Contains(doc, "`"+path) && !strings.Contains(doc, "`sfp "+path) {
			t.Errorf("README.md does not document %q", "sfp "+path)
		}
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" || f.Hidden {
				return
			}
			if !strings.Contains(doc, "--"+f.Name) {
				t.Errorf("README.md never mentions --%s (of sfp %s)", f.Name, path)
			}
		})
	}
	walk(root)
}
