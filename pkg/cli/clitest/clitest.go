// Package clitest helps test sfp commands the way the GitHub CLI tests
// its own: build a command with a run function that captures its options,
// parse arguments with it, and look at what the command would run with —
// no server, no disk.
package clitest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// Factory is a factory with buffer streams and an empty environment.
func Factory() *cmdutil.Factory {
	ios, _, _, _ := cmdutil.Test()
	return &cmdutil.Factory{IOStreams: ios, Getenv: func(string) string { return "" }}
}

// Parse builds a command with newCmd and a run function that captures its
// options, and runs it with args. It returns the options (nil when the
// command refused the arguments before running) and the error.
func Parse[O any](newCmd func(*cmdutil.Factory, func(context.Context, *O) error) *cobra.Command, args ...string) (*O, error) {
	f := Factory()
	var got *O
	cmd := newCmd(f, func(_ context.Context, o *O) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetOut(f.IOStreams.Out)
	cmd.SetErr(f.IOStreams.ErrOut)
	err := cmd.ExecuteContext(context.Background())
	return got, err
}

// MustParse is Parse that fails the test unless the arguments were
// accepted.
func MustParse[O any](t testing.TB, newCmd func(*cmdutil.Factory, func(context.Context, *O) error) *cobra.Command, args ...string) *O {
	t.Helper()
	o, err := Parse(newCmd, args...)
	if err != nil || o == nil {
		t.Fatalf("%q refused: %v", args, err)
	}
	return o
}

// Refuses fails the test unless newCmd refuses args with a usage error
// (exit 2) that says want.
func Refuses[O any](t testing.TB, newCmd func(*cmdutil.Factory, func(context.Context, *O) error) *cobra.Command, want string, args ...string) {
	t.Helper()
	o, err := Parse(newCmd, args...)
	var fe *cmdutil.FlagError
	if o != nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), want) || cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("%q: err %v, want a usage error saying %q", args, err, want)
	}
}
