// Package clidoc writes the sfp command reference (docs/cli.md) from the
// cobra command tree, so that the reference is the commands' own help text
// and cannot drift from it.
package clidoc

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// Markdown writes the reference of root and every command below it: a
// table of contents, then one section per command with its usage,
// description, examples, flags with their defaults and, where the command
// records them, the fields of its --json output.
func Markdown(w io.Writer, root *cobra.Command, intro string) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "# %s command reference\n\n", root.Name())
	fmt.Fprintf(b, "<!-- Generated from the command tree by `go test ./pkg/cli -run TestCLIReference -update`; edit the commands, not this file. -->\n\n")
	if intro != "" {
		b.WriteString(strings.TrimSpace(intro) + "\n\n")
	}
	cmds := documented(root)
	b.WriteString("## Contents\n\n")
	for _, c := range cmds {
		depth := strings.Count(c.CommandPath(), " ") - 1
		fmt.Fprintf(b, "%s- [%s](#%s) — %s\n", strings.Repeat("  ", depth), c.CommandPath(), anchor(c), c.Short)
	}
	b.WriteString("\n")
	for _, c := range cmds {
		section(b, c)
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}

// documented lists the commands below root, depth first in the order
// `--help` lists them, without cobra's own (help, completion) and hidden
// ones.
func documented(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, c := range root.Commands() {
		if !c.IsAvailableCommand() || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		out = append(out, c)
		out = append(out, documented(c)...)
	}
	return out
}

func anchor(c *cobra.Command) string {
	return strings.ReplaceAll(c.CommandPath(), " ", "-")
}

func section(b *strings.Builder, c *cobra.Command) {
	depth := strings.Count(c.CommandPath(), " ")
	fmt.Fprintf(b, "%s %s\n\n", strings.Repeat("#", min(depth+1, 6)), c.CommandPath())
	b.WriteString(prose(c.Short) + ".\n\n")
	if c.Runnable() && (!c.HasAvailableSubCommands() || len(flagRows(c)) > 0) {
		fmt.Fprintf(b, "```\n%s\n```\n\n", c.UseLine())
	}
	if c.Long != "" {
		b.WriteString(prose(c.Long) + "\n\n")
	}
	if c.HasAvailableSubCommands() {
		b.WriteString("Commands:")
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() && sub.Name() != "help" {
				fmt.Fprintf(b, " [%s](#%s)", sub.Name(), anchor(sub))
			}
		}
		b.WriteString("\n\n")
	}
	if c.Aliases != nil {
		fmt.Fprintf(b, "Aliases: %s\n\n", strings.Join(c.Aliases, ", "))
	}
	if c.Example != "" {
		fmt.Fprintf(b, "Examples:\n\n```bash\n%s\n```\n\n", dedent(c.Example))
	}
	flags(b, c)
	if fields := c.Annotations[cmdutil.JSONFieldsAnnotation]; fields != "" {
		fmt.Fprintf(b, "JSON fields (`--json`): `%s`\n\n", strings.ReplaceAll(fields, ", ", "`, `"))
	}
}

// flags writes the command's flags as a table: name (and shorthand, and
// the kind of value), default, description.
func flags(b *strings.Builder, c *cobra.Command) {
	rows := flagRows(c)
	if len(rows) == 0 {
		return
	}
	b.WriteString("| Flag | Default | Description |\n|---|---|---|\n")
	b.WriteString(strings.Join(rows, "\n") + "\n\n")
}

// dedent removes the indentation every line of an example shares (help
// output indents examples; a code block needs no indent).
func dedent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " "))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	for i, l := range lines {
		if len(l) >= indent && indent > 0 {
			lines[i] = l[indent:]
		}
	}
	return strings.Join(lines, "\n")
}

// flagRows are the table rows of the command's own visible flags.
func flagRows(c *cobra.Command) []string {
	var rows []string
	c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Name == "help" {
			return
		}
		name, usage := pflag.UnquoteUsage(f)
		flag := "--" + f.Name
		if f.Shorthand != "" {
			flag = "-" + f.Shorthand + ", " + flag
		}
		if name != "" {
			flag += " " + name
		}
		rows = append(rows, fmt.Sprintf("| `%s` | %s | %s |", flag, defaultValue(f), cell(usage)))
	})
	return rows
}

// defaultValue is the flag's default, or nothing for the zero values that
// mean "not given".
func defaultValue(f *pflag.Flag) string {
	switch f.DefValue {
	case "", "false", "[]", "0", "0s":
		return ""
	}
	return "`" + f.DefValue + "`"
}

// prose escapes what Markdown would take for HTML in help text.
func prose(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "<", "&lt;")
}

// cell is prose fit for a table cell.
func cell(s string) string {
	return strings.ReplaceAll(prose(s), "|", `\|`)
}
