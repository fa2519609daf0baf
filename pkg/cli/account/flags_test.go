package account

import (
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/pkg/cli/clitest"
)

func TestAccountFlags(t *testing.T) {
	o := clitest.MustParse(t, NewCmdCreate, "Acme Corp", "--use", "--json")
	if o.Name != "Acme Corp" || o.Slug != "" || !o.Use || !o.JSON {
		t.Fatalf("create %+v", o)
	}
	// A name whose slug would be too long needs --slug; the limit is named.
	long := strings.Repeat("Acme ", 17) // 84 characters
	clitest.Refuses(t, NewCmdCreate, "1 to 63", long)
	clitest.Refuses(t, NewCmdCreate, "pass --slug", "!!!")
	if o := clitest.MustParse(t, NewCmdCreate, long, "--slug", "acme"); o.Slug != "acme" {
		t.Fatalf("create with --slug %+v", o)
	}

	m := clitest.MustParse(t, NewCmdMemberAdd, "dev@acme.test", "--account", "acme")
	if m.User != "dev@acme.test" || m.Role != "member" || m.Scope.Account != "acme" {
		t.Fatalf("member add %+v", m)
	}
	clitest.Refuses(t, NewCmdMemberAdd, "--role", "dev@acme.test", "--role", "superuser")
	r := clitest.MustParse(t, NewCmdMemberSetRole, "dev@acme.test", "owner")
	if r.User != "dev@acme.test" || r.Role != "owner" {
		t.Fatalf("set-role %+v", r)
	}
	clitest.Refuses(t, NewCmdMemberSetRole, "viewer, member or owner", "dev@acme.test")

	if s := clitest.MustParse(t, NewCmdShow, "acme"); s.Scope.Account != "acme" {
		t.Fatalf("show %+v", s)
	}
}
