package doc

import (
	"testing"

	"github.com/sfp-dev/sfp/pkg/cli/clitest"
)

func TestDocFlags(t *testing.T) {
	p := clitest.MustParse(t, NewCmdPut, "notes", "k", "-d", `{"a":1}`, "--if-version", "3")
	if p.Collection != "notes" || p.Key != "k" || p.IfVersion != 3 || p.Data != `{"a":1}` || p.File != "" {
		t.Fatalf("put %+v", p)
	}
	// No --data or --file and stdin is not a terminal: the document comes
	// from stdin.
	if p := clitest.MustParse(t, NewCmdPut, "notes", "k"); p.File != "-" {
		t.Fatalf("put from stdin %+v", p)
	}
	clitest.Refuses(t, NewCmdPut, "exclude", "notes", "k", "-d", "1", "-f", "x.json")
	clitest.Refuses(t, NewCmdPut, "exclude", "notes", "k", "-d", "1", "--create-only", "--if-version", "2")
	clitest.Refuses(t, NewCmdPut, "--if-version", "notes", "k", "-d", "1", "--if-version", "-2")
	clitest.Refuses(t, NewCmdPut, "collection and the key", "notes")

	clitest.Refuses(t, NewCmdList, "--limit", "notes", "--limit", "1001")
	clitest.Refuses(t, NewCmdList, "exclude", "notes", "--all", "--cursor", "c")
	if l := clitest.MustParse(t, NewCmdList, "notes", "--prefix", "rel", "-L", "5"); l.Prefix != "rel" || l.List.Limit != 5 {
		t.Fatalf("list %+v", l)
	}
}
