package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
)

// An admin account whose slug would be longer than create_account allows
// is refused by init, naming the limit, before anything exists — not by
// the first start, after the cluster was created.
func TestServerInitRefusesAnAdminAccountTooLongForASlug(t *testing.T) {
	t.Parallel()
	u := newSfp(t)
	base := t.TempDir()
	pw := writeTemp(t, "pw", "correct-horse-battery\n")
	name := strings.Repeat("Acme ", 17)[:84]
	init := func(account string) result {
		return u.run("", "server", "init", "-t", "long", "--base-dir", base,
			"--admin-email", "admin@long.test", "--admin-password-file", pw, "--admin-account", account)
	}
	init(name).fails(t, cmdutil.ExitUsage, "--admin-account", "1 to 63", "gives 84")
	if _, err := os.Stat(filepath.Join(base, "tenants", "long")); !os.IsNotExist(err) {
		t.Fatalf("init created the tenant anyway: %v", err)
	}
	init("!!!").fails(t, cmdutil.ExitUsage, "gives 0")
	init(strings.Repeat("a ", 101)).fails(t, cmdutil.ExitUsage, "1 to 200 characters")
	// A name of the right size still works.
	init("Acme Corp").ok(t)
}
