package server

import (
	"testing"
	"time"

	"github.com/sfp-dev/sfp/pkg/cli/clitest"
)

func TestBackupFlags(t *testing.T) {
	b := clitest.MustParse(t, NewCmdBackup, "-t", "acme", "-o", "x.sfpbackup", "--passphrase-file", "p", "--json")
	if b.Flags.Tenant != "acme" || b.Output != "x.sfpbackup" || b.PassphraseFile != "p" || !b.JSON || b.Format != "physical" {
		t.Fatalf("backup %+v", b)
	}
	if b := clitest.MustParse(t, NewCmdBackup, "-t", "acme", "--format", "sql", "--unencrypted"); b.Format != "sql" || !b.Unencrypted {
		t.Fatalf("backup --format sql %+v", b)
	}
	clitest.Refuses(t, NewCmdBackup, "not physical or sql", "-t", "acme", "--format", "tar")
	clitest.Refuses(t, NewCmdBackup, "not both", "-t", "acme", "--passphrase-file", "p", "--recipient", "age1x")
	clitest.Refuses(t, NewCmdBackup, "--unencrypted cannot", "-t", "acme", "--unencrypted", "--passphrase-file", "p")

	r := clitest.MustParse(t, NewCmdRestore, "-t", "b", "--from", "f", "--identity", "k", "--to-time", "2026-12-07T04:05:00Z", "--force")
	if r.From != "f" || r.IdentityFile != "k" || !r.Force || !r.toTime.Equal(time.Date(2026, 12, 7, 4, 5, 0, 0, time.UTC)) {
		t.Fatalf("restore %+v", r)
	}
	clitest.Refuses(t, NewCmdRestore, "--from FILE", "-t", "b")
	clitest.Refuses(t, NewCmdRestore, "not an RFC 3339 time", "-t", "b", "--from", "f", "--to-time", "yesterday")
	clitest.Refuses(t, NewCmdRestore, "not both", "-t", "b", "--from", "f", "--to-time", "2026-12-07T04:05:00Z", "--to-lsn", "0/1")
	clitest.Refuses(t, NewCmdRestore, "not both", "-t", "b", "--from", "f", "--passphrase-file", "p", "--identity", "k")

	if p := clitest.MustParse(t, NewCmdPsql, "-t", "acme", "--user", "a@b.c", "--", "-c", "select 1"); p.Role != "authenticated" || len(p.Args) != 2 {
		t.Fatalf("psql --user %+v", p)
	}
	clitest.Refuses(t, NewCmdPsql, "not anon, authenticated or service_role", "-t", "acme", "--role", "postgres")
}
