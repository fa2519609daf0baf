package auth

import (
	"testing"

	"github.com/sfp-dev/sfp/pkg/cli/clitest"
)

func TestAuthFlags(t *testing.T) {
	o := clitest.MustParse(t, NewCmdLogin, "-t", "acme", "--email", "a@b.test", "--password-stdin", "--json")
	if o.Tenant != "acme" || o.Email != "a@b.test" || !o.PasswordStdin || !o.JSON || o.SignUp {
		t.Fatalf("login %+v", o)
	}
	clitest.Refuses(t, NewCmdLogin, "--email")
	clitest.Refuses(t, NewCmdLogin, "unexpected argument", "--email", "x", "extra")

	s := clitest.MustParse(t, NewCmdSignup, "--server", "http://x", "--api-key", "k", "--email", "a@b.test")
	if !s.SignUp || s.Server != "http://x" || s.APIKey != "k" {
		t.Fatalf("signup %+v", s)
	}
	if w := clitest.MustParse(t, NewCmdWhoami, "--json"); !w.JSON {
		t.Fatalf("whoami %+v", w)
	}
}
