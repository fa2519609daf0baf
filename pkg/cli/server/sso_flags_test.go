package server

import (
	"testing"

	"github.com/sfp-dev/sfp/pkg/cli/clitest"
)

func TestSSOFlags(t *testing.T) {
	a := clitest.MustParse(t, NewCmdSSOAdd, "-t", "acme", "--metadata-url", "https://idp.example/md", "--domain", "acme.com",
		"--domain", "acme.org", "--attribute-mapping", "map.json", "--resource-id", "okta", "--json")
	if a.Flags.Tenant != "acme" || a.MetadataURL != "https://idp.example/md" || len(a.Domains) != 2 || a.Domains[1] != "acme.org" ||
		a.AttributeMappingFile != "map.json" || a.ResourceID != "okta" || !a.JSON {
		t.Fatalf("add %+v", a)
	}
	if a := clitest.MustParse(t, NewCmdSSOAdd, "-t", "acme", "--metadata-file", "-", "--domain", "acme.com"); a.MetadataFile != "-" {
		t.Fatalf("add --metadata-file %+v", a)
	}
	clitest.Refuses(t, NewCmdSSOAdd, "either --metadata-url or --metadata-file", "-t", "acme", "--domain", "acme.com")
	clitest.Refuses(t, NewCmdSSOAdd, "either --metadata-url or --metadata-file", "-t", "acme", "--domain", "acme.com",
		"--metadata-url", "https://x", "--metadata-file", "f")
	clitest.Refuses(t, NewCmdSSOAdd, "pass --domain DOMAIN", "-t", "acme", "--metadata-file", "f")
	clitest.Refuses(t, NewCmdSSOAdd, "is not an email domain", "-t", "acme", "--metadata-file", "f", "--domain", "ada@acme.com")
	clitest.Refuses(t, NewCmdSSOAdd, "only one of --metadata-file and --attribute-mapping can read stdin",
		"-t", "acme", "--metadata-file", "-", "--attribute-mapping", "-", "--domain", "acme.com")

	if l := clitest.MustParse(t, NewCmdSSOList, "-t", "acme", "--json"); !l.JSON || l.Flags.Tenant != "acme" {
		t.Fatalf("list %+v", l)
	}
	clitest.Refuses(t, NewCmdSSOList, "unexpected argument", "-t", "acme", "extra")

	if r := clitest.MustParse(t, NewCmdSSORemove, "-t", "acme", "0b6f0c55-7c4b-4a8e-9a52-1a4f2d1c9e10", "--yes"); r.ID != "0b6f0c55-7c4b-4a8e-9a52-1a4f2d1c9e10" || !r.Yes {
		t.Fatalf("remove %+v", r)
	}
	clitest.Refuses(t, NewCmdSSORemove, "which provider?", "-t", "acme")
}
