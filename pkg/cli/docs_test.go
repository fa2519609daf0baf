package cli

import (
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// docs/cli.md has a section for every command and mentions every flag, and
// every flag has a description. (TestCLIReference keeps the file equal to
// what the commands say; this test checks the generator leaves nothing out.)
func TestDocsCoverEveryCommandAndFlag(t *testing.T) {
	raw, err := os.ReadFile(referencePath())
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
		path := c.CommandPath()
		if !c.HasParent() || strings.HasPrefix(path, "sfp completion") || strings.HasPrefix(path, "sfp help") {
			return // the root and cobra's own
		}
		if !strings.Contains(doc, "# "+path+"\n") {
			t.Errorf("docs/cli.md has no section for %q", path)
		}
		if c.HasSubCommands() {
			return
		}
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" || f.Hidden {
				return
			}
			if !strings.Contains(doc, "--"+f.Name) {
				t.Errorf("docs/cli.md never mentions --%s (of %s)", f.Name, path)
			}
			if f.Usage == "" {
				t.Errorf("--%s of %s has no description", f.Name, path)
			}
		})
	}
	walk(root)
}
