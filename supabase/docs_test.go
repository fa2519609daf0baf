package supabase_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sfp-dev/sfp/internal/pgtest"
)

// TestSchemaReferenceCoversCatalog fails when a public table, column or
// function is missing from the "Tenant schema" section of README.md: the
// names are public API and the reference must describe every one of them.
func TestSchemaReferenceCoversCatalog(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatalf("read README.md: %v", err)
	}
	doc := string(raw)
	start := strings.Index(doc, "\n## Tenant schema\n")
	if start < 0 {
		t.Fatal("README.md has no section ## Tenant schema")
	}
	doc = doc[start+1:]
	if end := strings.Index(doc[1:], "\n## "); end >= 0 {
		doc = doc[:end+1]
	}
	db := pgtest.NewDB(t)
	rows, err := db.Admin(t).Query(context.Background(), `
		select 'table', c.relname::text, '' from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'
		union all
		select 'column', c.relname::text, a.attname::text from pg_class c
		join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
		where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'c')
		union all
		select 'function', p.proname::text, pg_get_function_identity_arguments(p.oid) from pg_proc p
		where p.pronamespace = 'public'::regnamespace
		order by 1, 2, 3`)
	must(t, "catalog", err)
	type object struct{ Kind, Name, Detail string }
	objs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[object])
	must(t, "catalog", err)
	if len(objs) < 150 {
		t.Fatalf("only %d catalog objects; the query is broken", len(objs))
	}
	// section returns the text under "#### `name`" up to the next heading.
	section := func(name string) string {
		i := strings.Index(doc, "\n#### `"+name+"`\n")
		if i < 0 {
			return ""
		}
		rest := doc[i+1:]
		if j := strings.Index(rest[1:], "\n#"); j >= 0 {
			rest = rest[:j+1]
		}
		return rest
	}
	for _, o := range objs {
		switch o.Kind {
		case "table":
			if section(o.Name) == "" {
				t.Errorf("README.md has no section #### `%s`", o.Name)
			}
		case "column":
			if !strings.Contains(section(o.Name), "| `"+o.Detail+"` |") {
				t.Errorf("README.md: section %s has no row for column %s", o.Name, o.Detail)
			}
		case "function":
			if !strings.Contains(doc, "`"+o.Name+"(") {
				t.Errorf("README.md does not document function %s(%s)", o.Name, o.Detail)
			}
			// Every argument name appears in the documented signature.
			for _, arg := range strings.Split(o.Detail, ", ") {
				if arg == "" {
					continue
				}
				if name := strings.Fields(arg)[0]; !strings.Contains(doc, name+" ") {
					t.Errorf("README.md does not name argument %s of %s", name, o.Name)
				}
			}
		}
	}
}
