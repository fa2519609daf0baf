package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sfp-dev/sfp/pkg/client"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// Exit codes of sfp. README documents them; scripts rely on them.
const (
	ExitOK          = 0   // success
	ExitFailure     = 1   // any other failure
	ExitUsage       = 2   // bad flags or arguments
	ExitNotFound    = 3   // the named resource does not exist
	ExitAuth        = 4   // not logged in, or the session expired and cannot be refreshed
	ExitForbidden   = 5   // the caller's role does not allow it
	ExitConflict    = 6   // a version conflict or duplicate
	ExitUnreachable = 7   // the server could not be reached
	ExitFailed      = 8   // a watched task or deployment ended failed or cancelled
	ExitInterrupted = 130 // interrupted (Ctrl-C)
)

// FlagError is a usage error: bad flags or arguments.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// FlagErrorf returns a usage error.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// ExitError carries an explicit exit code. A nil Err means "exit quietly
// with Code" (the command already printed what it had to say).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// Coder is implemented by errors that know their exit code (client errors).
type Coder interface{ ExitCode() int }

// ErrSilent exits with ExitError without printing anything more.
var ErrSilent = &ExitError{Code: ExitFailure}

// ExitCode maps an error to the process exit code. It is the one place that
// does so.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	var fe *FlagError
	if errors.As(err, &fe) {
		return ExitUsage
	}
	if errors.Is(err, context.Canceled) {
		return ExitInterrupted
	}
	var c Coder
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	return clientExitCode(err)
}

// clientExitCode maps the API client's errors.
func clientExitCode(err error) int {
	switch {
	case errors.Is(err, client.ErrUnreachable):
		return ExitUnreachable
	case errors.Is(err, client.ErrUnauthenticated), errors.Is(err, client.ErrNoSession):
		return ExitAuth
	case errors.Is(err, client.ErrForbidden):
		return ExitForbidden
	case errors.Is(err, client.ErrNotFound), errors.Is(err, tenant.ErrNotFound):
		return ExitNotFound
	case errors.Is(err, client.ErrConflict), errors.Is(err, tenant.ErrExists), errors.Is(err, tenant.ErrRunning):
		return ExitConflict
	}
	return ExitFailure
}

// Hint returns advice to print after an error, or "".
func Hint(err error) string {
	var ce *client.Error
	switch {
	case errors.Is(err, client.ErrSessionExpired):
		return "Your session expired and could not be refreshed: run `sfp login` again."
	case errors.Is(err, client.ErrNoSession):
		return "Log in first: " + loginHint + "."
	case errors.Is(err, client.ErrUnreachable):
		return "Is the tenant running? Check with `sfp server status -t NAME`, or check --server / SFP_SERVER_URL."
	case errors.Is(err, client.ErrVersionConflict) && errors.As(err, &ce) && ce.CurrentVersion > 0:
		return fmt.Sprintf("Someone changed it meanwhile: the current version is %d. Read it again, then retry with --if-version %d.", ce.CurrentVersion, ce.CurrentVersion)
	case errors.Is(err, client.ErrUnauthenticated) && errors.As(err, &ce) && ce.Code == "invalid_credentials":
		return "Check the email and password."
	case errors.Is(err, client.ErrForbidden) && errors.As(err, &ce) && ce.RequiredRole != "":
		return fmt.Sprintf("Ask an owner of the account to give you the %s role (`sfp account member set-role`).", ce.RequiredRole)
	}
	return ""
}

// NoArgs rejects positional arguments with a usage error.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return FlagErrorf("unexpected argument %q for %q", args[0], cmd.CommandPath())
	}
	return nil
}

// ExactArgs requires n positional arguments; msg says which, as in
// "give the project identifier (org/repo)".
func ExactArgs(n int, msg string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return FlagErrorf("%s", msg)
		}
		if len(args) > n {
			return FlagErrorf("too many arguments for %q: %q", cmd.CommandPath(), args[n:])
		}
		return nil
	}
}

// ErrorMessage is err as printed on stderr. For people a refused request
// reads as what failed and why, without the HTTP status and protocol code
// ("not found (or not visible to you)", not "… [HTTP 406 PGRST116]");
// withCodes keeps them, for --json and SFP_DEBUG=1, where a program or a
// bug report wants them.
func ErrorMessage(err error, withCodes bool) string {
	msg := err.Error()
	var ce *client.Error
	if !withCodes && errors.As(err, &ce) {
		msg = strings.Replace(msg, ce.Error(), ce.Describe(), 1)
	}
	return msg
}

// CheckID refuses an id argument that is not a UUID, as a usage error
// naming the kind of resource.
func CheckID(kind, id string) error {
	if !client.IsUUID(id) {
		return FlagErrorf("%q is not a %s id (a UUID)", id, kind)
	}
	return nil
}
