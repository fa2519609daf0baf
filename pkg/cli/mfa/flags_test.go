package mfa

import (
	"testing"

	"github.com/sfp-dev/sfp/pkg/cli/clitest"
)

func TestMFAFlags(t *testing.T) {
	e := clitest.MustParse(t, NewCmdEnroll, "--name", "laptop", "--issuer", "Acme", "--no-verify", "--json")
	if e.Name != "laptop" || e.Issuer != "Acme" || !e.NoVerify || !e.JSON {
		t.Fatalf("enroll %+v", e)
	}
	clitest.Refuses(t, NewCmdEnroll, "unexpected argument", "extra")
	if l := clitest.MustParse(t, NewCmdList, "--json"); !l.JSON {
		t.Fatalf("list %+v", l)
	}
	const id = "5c0f9a52-7a35-4a8e-9a43-1d2d3e4f5a6b"
	if r := clitest.MustParse(t, NewCmdRemove, id); r.FactorID != id {
		t.Fatalf("remove %+v", r)
	}
	clitest.Refuses(t, NewCmdRemove, "which factor")
	clitest.Refuses(t, NewCmdRemove, "factor", "not-a-uuid")
	if v := clitest.MustParse(t, NewCmdVerify, id); v.FactorID != id {
		t.Fatalf("verify %+v", v)
	}
}
