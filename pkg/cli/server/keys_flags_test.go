package server

import (
	"testing"

	"github.com/sfp-dev/sfp/pkg/cli/clitest"
)

func TestKeysFlags(t *testing.T) {
	k := clitest.MustParse(t, NewCmdKeys, "-t", "acme", "--secret", "--service-role", "--json")
	if k.Flags.Tenant != "acme" || !k.Secret || !k.ServiceRole || !k.JSON {
		t.Fatalf("keys %+v", k)
	}
	if k := clitest.MustParse(t, NewCmdKeys, "-t", "acme"); k.Secret || k.ServiceRole {
		t.Fatalf("keys prints secrets unasked: %+v", k)
	}
	clitest.Refuses(t, NewCmdKeys, "unexpected argument", "-t", "acme", "extra")

	if r := clitest.MustParse(t, NewCmdKeysRotate, "-t", "acme"); r.Flags.Tenant != "acme" {
		t.Fatalf("rotate %+v", r)
	}
	clitest.Refuses(t, NewCmdKeysRevoke, "unexpected argument", "-t", "acme", "now")

	if r := clitest.MustParse(t, newCmdSigningRetire, "-t", "acme", "--force"); !r.Force {
		t.Fatalf("retire --force %+v", r)
	}
	if r := clitest.MustParse(t, newCmdSigningRetire, "-t", "acme"); r.Force {
		t.Fatalf("retire forces by default: %+v", r)
	}
	clitest.MustParse(t, newCmdSigningStandby, "-t", "acme")
	clitest.MustParse(t, newCmdSigningPromote, "-t", "acme")

	if l := clitest.MustParse(t, NewCmdKeysLegacy, "off", "-t", "acme"); l.Legacy {
		t.Fatalf("legacy off %+v", l)
	}
	if l := clitest.MustParse(t, NewCmdKeysLegacy, "on", "-t", "acme"); !l.Legacy {
		t.Fatalf("legacy on %+v", l)
	}
	clitest.Refuses(t, NewCmdKeysLegacy, "say on or off", "-t", "acme")
	clitest.Refuses(t, NewCmdKeysLegacy, "say on or off", "maybe", "-t", "acme")
}
