package server

import (
	"testing"

	"github.com/sfp-dev/sfp/pkg/cli/clitest"
)

func TestProviderFlags(t *testing.T) {
	s := clitest.MustParse(t, NewCmdProviderSet, "GitHub", "-t", "acme", "--client-id", "Iv1.x", "--secret-file", "-",
		"--url", "https://ghe.acme.test", "--redirect-uri", "https://sfp.acme.test/auth/v1/callback")
	if s.Name != "github" || s.ClientID != "Iv1.x" || s.SecretFile != "-" || s.URL != "https://ghe.acme.test" || s.Flags.Tenant != "acme" {
		t.Fatalf("set %+v", s)
	}
	clitest.Refuses(t, NewCmdProviderSet, "--client-id", "github", "-t", "acme")
	clitest.Refuses(t, NewCmdProviderSet, "which provider?", "-t", "acme", "--client-id", "x")
	clitest.Refuses(t, NewCmdProviderSet, `provider "myspace" is not supported`, "myspace", "-t", "acme", "--client-id", "x")
	// The secret is never an argument.
	clitest.Refuses(t, NewCmdProviderSet, "unknown flag: --secret", "github", "-t", "acme", "--client-id", "x", "--secret", "s3cret")

	if l := clitest.MustParse(t, NewCmdProviderList, "-t", "acme", "--json"); !l.JSON {
		t.Fatalf("list %+v", l)
	}
	if d := clitest.MustParse(t, NewCmdProviderDisable, "keycloak", "-t", "acme"); d.Name != "keycloak" {
		t.Fatalf("disable %+v", d)
	}
	clitest.Refuses(t, NewCmdProviderDisable, "too many arguments", "github", "gitlab", "-t", "acme")
}
