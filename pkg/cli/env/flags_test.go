package env

import (
	"testing"
	"time"

	"github.com/sfp-dev/sfp/pkg/cli/clitest"
)

// What each env command hands to its run function, and which arguments
// are usage errors before anything is sent.
func TestEnvFlags(t *testing.T) {
	t.Run("lock", func(t *testing.T) {
		o := clitest.MustParse(t, NewCmdLock, "staging", "-p", "acme/web", "--lease", "90m", "--reason", "r", "--wait", "--account", "acme")
		if o.Scope.Environment != "staging" || o.Scope.Project != "acme/web" || o.Scope.Account != "acme" ||
			o.Lease != 90*time.Minute || !o.Wait || o.Reason != "r" {
			t.Fatalf("%+v", o)
		}
		clitest.Refuses(t, NewCmdLock, "--lease", "staging", "-p", "a/b", "--lease", "721h")
		clitest.Refuses(t, NewCmdLock, "invalid argument", "staging", "-p", "a/b", "--lease", "soon")
		clitest.Refuses(t, NewCmdLock, "environment's name", "-p", "a/b")
		clitest.Refuses(t, NewCmdLock, "which project?", "staging")
	})
	t.Run("create", func(t *testing.T) {
		o := clitest.MustParse(t, NewCmdCreate, "qa", "-p", "acme/web", "--tag", "eu", "--tag", "blue", "--inactive", "--metadata", `{"a":1}`)
		if o.Name != "qa" || len(o.Tags) != 2 || !o.Inactive || o.Metadata != `{"a":1}` {
			t.Fatalf("%+v", o)
		}
		clitest.Refuses(t, NewCmdCreate, "--metadata is not valid JSON", "qa", "-p", "a/b", "--metadata", "{")
	})
	t.Run("update sends only the flags given", func(t *testing.T) {
		o := clitest.MustParse(t, NewCmdUpdate, "staging", "-p", "acme/web", "--branch", "", "--active=false")
		u := o.Changes
		if u.Branch == nil || *u.Branch != "" || u.Active == nil || *u.Active || u.Name != nil || u.Tags != nil || u.Category != nil {
			t.Fatalf("%+v", u)
		}
	})
	t.Run("tickets", func(t *testing.T) {
		id := "5c0f9a52-7a35-4a8e-9a43-1d2d3e4f5a6b"
		o := clitest.MustParse(t, NewCmdExtend, "--ticket", id, "--lease", "2h")
		if o.Ticket != id || o.Lease != 2*time.Hour {
			t.Fatalf("%+v", o)
		}
		clitest.Refuses(t, NewCmdUnlock, "--ticket")
		clitest.Refuses(t, NewCmdUnlock, "not a ticket id", "--ticket", "abc")
		clitest.Refuses(t, NewCmdExtend, "--lease", "--ticket", id, "--lease", "0s")
	})
	t.Run("list", func(t *testing.T) {
		clitest.Refuses(t, NewCmdList, "--limit", "-p", "a/b", "--limit", "1001")
		clitest.Refuses(t, NewCmdList, "which project?")
	})
}
