// Package project holds `sfp project`.
package project

import (
	"encoding/json"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// NewCmdProject builds `sfp project`.
func NewCmdProject(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "project <command>",
		Short: "Register and manage projects (repositories)",
		Long: `A project is one repository (org/repo; Azure DevOps: org/project/repo) on GitHub
or Azure DevOps. Viewers read projects, members register and update them,
owners delete them. Updates are optimistic: --if-version refuses the change
if someone else changed the project since you read that version. All project
commands take --account.`,
	}
	cmd.AddCommand(NewCmdRegister(f, nil), NewCmdList(f, nil), NewCmdShow(f, nil), NewCmdUpdate(f, nil), NewCmdDelete(f, nil))
	return cmd
}

// checkPlatform refuses a platform sfp does not know.
func checkPlatform(p string) error {
	if p != "" && p != client.PlatformGitHub && p != client.PlatformAzureDevOps {
		return cmdutil.FlagErrorf("--platform must be github or azure_devops, not %q", p)
	}
	return nil
}

// checkSettings checks the JSON of --settings and --platform-settings.
func checkSettings(settings, platformSettings string) error {
	if _, err := cmdutil.ParseJSONFlag("settings", settings); err != nil {
		return err
	}
	_, err := cmdutil.ParseJSONFlag("platform-settings", platformSettings)
	return err
}

func rawOrNil(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

func printProject(ios *cmdutil.IOStreams, p *client.Project) error {
	return cmdutil.PrintFields(ios.Out,
		"Project", p.Identifier, "ID", p.ID, "Platform", p.Platform, "Remote", p.RemoteURL,
		"Description", p.Description, "Settings", cmdutil.CompactJSON(p.Settings),
		"Platform settings", cmdutil.CompactJSON(p.PlatformSettings), "Version", strconv.FormatInt(p.Version, 10),
		"Created", cmdutil.FormatTime(p.CreatedAt), "Updated", cmdutil.FormatTime(p.UpdatedAt))
}
