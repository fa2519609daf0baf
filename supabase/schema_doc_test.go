package supabase_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sfp-dev/sfp/internal/pgtest"
	"github.com/sfp-dev/sfp/pkg/migrate"
	"github.com/sfp-dev/sfp/supabase"
)

var update = flag.Bool("update", false, "rewrite docs/schema.md from the catalog")

const schemaDocPath = "../docs/schema.md"

// TestSchemaReference renders the schema reference from a migrated
// database — the tables, columns, types, policies and functions of the
// tenant schema with the text of their COMMENT ON, which Studio shows too —
// and fails when docs/schema.md differs. Run with -update to rewrite it.
func TestSchemaReference(t *testing.T) {
	db := pgtest.NewDB(t)
	got, err := renderSchemaDoc(context.Background(), db.Admin(t))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaDocPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(schemaDocPath)
	if err != nil {
		t.Fatalf("read %s: %v (generate it with go test ./supabase -run TestSchemaReference -update)", schemaDocPath, err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s is stale (first difference at line %d):\n  committed: %s\n  catalog:   %s\nregenerate it with go test ./supabase -run TestSchemaReference -update", schemaDocPath, i+1, w, g)
			}
		}
	}
}

// TestSchemaReferenceNamesEverything guards the renderer itself: every
// public table, column and function of the catalog appears in what it
// renders, so a broken query cannot produce a reference that is merely
// consistent with itself.
func TestSchemaReferenceNamesEverything(t *testing.T) {
	db := pgtest.NewDB(t)
	ctx := context.Background()
	doc, err := renderSchemaDoc(ctx, db.Admin(t))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.Admin(t).Query(ctx, `
		select 'table', c.relname::text, '' from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'
		union all
		select 'column', c.relname::text, a.attname::text from pg_class c
		join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
		where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'c')
		union all
		select 'function', p.proname::text, pg_get_function_identity_arguments(p.oid) from pg_proc p
		where p.pronamespace = 'public'::regnamespace`)
	must(t, "catalog", err)
	type object struct{ Kind, Name, Detail string }
	objs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[object])
	must(t, "catalog", err)
	if len(objs) < 150 {
		t.Fatalf("only %d catalog objects; the query is broken", len(objs))
	}
	s := string(doc)
	for _, o := range objs {
		var want string
		switch o.Kind {
		case "table":
			want = "\n### `" + o.Name + "`\n"
		case "column":
			want = "| `" + o.Detail + "` |"
		case "function":
			want = "`" + o.Name + "(" + o.Detail + ")`"
		}
		if !strings.Contains(s, want) {
			t.Errorf("the rendered reference lacks %s %s %s (looked for %q)", o.Kind, o.Name, o.Detail, want)
		}
	}
}

// md makes catalog text safe inside a markdown table cell.
func md(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.ReplaceAll(s, "`", "'") + "`"
}

type schemaQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func collect[T any](ctx context.Context, q schemaQuerier, sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, sql)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[T])
}

// renderSchemaDoc writes the reference in a fixed order: migrations, types,
// tables (in creation order, which follows the migrations), RPCs, internal
// helpers.
func renderSchemaDoc(ctx context.Context, pool interface {
	Begin(context.Context) (pgx.Tx, error)
}) ([]byte, error) {
	// Names outside public are schema-qualified (auth.uid(), auth.users)
	// whatever the connecting role's search_path.
	q, err := pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer q.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read-only
	if _, err := q.Exec(ctx, "set local search_path = public"); err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString(`# Tenant schema reference

<!-- Generated from the catalog of a migrated tenant database by
     go test ./supabase -run TestSchemaReference -update
     Do not edit: change the migration's COMMENT ON text instead. -->

What every table, column, type, policy and function of the tenant schema is, as the
migrations' ` + "`comment on`" + ` text says (Supabase Studio shows the same text). Who may do
what, how the policies are built and the errors the RPCs raise are explained in
[data-model.md](data-model.md).

`)
	// Migrations.
	ms, err := migrate.Load(supabase.Migrations())
	if err != nil {
		return nil, err
	}
	b.WriteString("## Migrations\n\n| version | file | what it does |\n|---|---|---|\n")
	for _, m := range ms {
		raw, err := fs.ReadFile(supabase.Migrations(), m.File)
		if err != nil {
			return nil, err
		}
		b.WriteString(fmt.Sprintf("| %s | `%s` | %s |\n", m.Version, m.File, md(firstComment(string(raw)))))
	}

	// Types.
	type typeRow struct {
		Name, Comment string
		Labels        []string
	}
	enums, err := collect[typeRow](ctx, q, `
		select t.typname::text, coalesce(obj_description(t.oid, 'pg_type'), ''),
		       array(select e.enumlabel::text from pg_enum e where e.enumtypid = t.oid order by e.enumsortorder)
		from pg_type t where t.typnamespace = 'public'::regnamespace and t.typtype = 'e'
		order by t.oid`)
	if err != nil {
		return nil, err
	}
	b.WriteString("\n## Types\n\n| enum | values | description |\n|---|---|---|\n")
	for _, t := range enums {
		vals := make([]string, len(t.Labels))
		for i, l := range t.Labels {
			vals[i] = code(l)
		}
		b.WriteString(fmt.Sprintf("| `%s` | %s | %s |\n", t.Name, strings.Join(vals, ", "), md(t.Comment)))
	}
	type compositeRow struct {
		Rel           uint32
		Name, Comment string
	}
	composites, err := collect[compositeRow](ctx, q, `
		select t.typrelid, t.typname::text, coalesce(obj_description(t.oid, 'pg_type'), '')
		from pg_type t join pg_class c on c.oid = t.typrelid and c.relkind = 'c'
		where t.typnamespace = 'public'::regnamespace and t.typtype = 'c'
		order by t.oid`)
	if err != nil {
		return nil, err
	}
	for _, t := range composites {
		if err := renderTable(ctx, q, &b, t.Rel, "`"+t.Name+"` (composite type)", t.Comment, false, "", false); err != nil {
			return nil, err
		}
	}

	// Tables.
	type tableRow struct {
		OID           uint32
		Name, Comment string
		RLS           bool
		Ident         string
		Published     bool
	}
	tables, err := collect[tableRow](ctx, q, `
		select c.oid, c.relname::text, coalesce(obj_description(c.oid, 'pg_class'), ''), c.relrowsecurity, c.relreplident::text,
		       exists (select 1 from pg_publication_rel pr join pg_publication p on p.oid = pr.prpubid
		               where p.pubname = 'supabase_realtime' and pr.prrelid = c.oid)
		from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
		order by c.oid`)
	if err != nil {
		return nil, err
	}
	b.WriteString("\n## Tables\n")
	for _, t := range tables {
		if err := renderTable(ctx, q, &b, t.OID, "`"+t.Name+"`", t.Comment, t.RLS, t.Ident, t.Published); err != nil {
			return nil, err
		}
	}

	// Functions.
	type fnRow struct {
		Name, Args, Returns, Security, Volatility, Comment string
		Grantees                                           []string
	}
	fnSQL := `
		select p.proname::text, pg_get_function_arguments(p.oid), pg_get_function_result(p.oid),
		       case when p.prosecdef then 'definer' else 'invoker' end,
		       case p.provolatile when 'i' then 'immutable' when 's' then 'stable' else 'volatile' end,
		       coalesce(obj_description(p.oid, 'pg_proc'), ''),
		       array(select r from unnest(array['anon', 'authenticated', 'service_role']) r
		             where has_function_privilege(r, p.oid, 'execute'))
		from pg_proc p where p.pronamespace = $1::regnamespace
		order by p.proname, pg_get_function_identity_arguments(p.oid)`
	fns, err := collect[fnRow](ctx, q, fnSQL, "public")
	if err != nil {
		return nil, err
	}
	type identRow struct{ Name, Ident string }
	idents, err := collect[identRow](ctx, q, `select p.proname::text, pg_get_function_identity_arguments(p.oid)
		from pg_proc p where p.pronamespace = 'public'::regnamespace
		order by p.proname, pg_get_function_identity_arguments(p.oid)`)
	if err != nil {
		return nil, err
	}
	b.WriteString("\n## Functions\n\nRPCs are called as `POST /rest/v1/rpc/<name>` with a JSON object of the named arguments" +
		" (stable and immutable ones also as `GET` with the arguments in the query string). " +
		"\"Callable by\" lists the API roles with `EXECUTE`; trigger functions are callable by none.\n\n" +
		"| function | returns | security | callable by | description |\n|---|---|---|---|---|\n")
	for i, f := range fns {
		who := strings.Join(f.Grantees, ", ")
		if who == "" {
			who = "—"
		}
		sig := "`" + f.Name + "(" + idents[i].Ident + ")`"
		if f.Args != idents[i].Ident {
			sig += "<br>defaults: " + code(f.Args)
		}
		b.WriteString(fmt.Sprintf("| %s | %s | %s, %s | %s | %s |\n", sig, code(f.Returns), f.Security, f.Volatility, who, md(f.Comment)))
	}
	internal, err := collect[fnRow](ctx, q, fnSQL, "sfp_private")
	if err != nil {
		return nil, err
	}
	b.WriteString("\n## Internal schema `sfp_private`\n\nNot exposed through the REST API: trigger functions and the helpers policies and RPCs use.\n\n" +
		"| function | returns | security | callable by | description |\n|---|---|---|---|---|\n")
	for _, f := range internal {
		who := strings.Join(f.Grantees, ", ")
		if who == "" {
			who = "—"
		}
		b.WriteString(fmt.Sprintf("| `%s(%s)` | %s | %s, %s | %s | %s |\n", f.Name, f.Args, code(f.Returns), f.Security, f.Volatility, who, md(f.Comment)))
	}
	return []byte(b.String()), nil
}

// renderTable writes a table's (or composite type's) section: comment,
// facts, columns, constraints, policies, triggers.
func renderTable(ctx context.Context, q schemaQuerier, b *strings.Builder, oid uint32, heading, comment string, rls bool, ident string, published bool) error {
	b.WriteString("\n### " + heading + "\n\n" + strings.TrimSpace(comment) + "\n\n")
	var facts []string
	if rls {
		facts = append(facts, "row-level security enabled")
	}
	if published {
		f := "in publication `supabase_realtime`"
		if ident == "f" {
			f += " with `REPLICA IDENTITY FULL`"
		}
		facts = append(facts, f)
	}
	if len(facts) > 0 {
		b.WriteString(strings.ToUpper(facts[0][:1]) + facts[0][1:])
		for _, f := range facts[1:] {
			b.WriteString("; " + f)
		}
		b.WriteString(".\n\n")
	}
	type colRow struct {
		Name, Type string
		NotNull    bool
		Default    string
		Comment    string
	}
	cols, err := collect[colRow](ctx, q, `
		select a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull,
		       coalesce(case when a.attgenerated = 's' then 'generated: ' else '' end || pg_get_expr(d.adbin, d.adrelid), ''),
		       coalesce(col_description(a.attrelid, a.attnum), '')
		from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
		where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped order by a.attnum`, oid)
	if err != nil {
		return err
	}
	b.WriteString("| column | type | null | default | description |\n|---|---|---|---|---|\n")
	for _, c := range cols {
		null := "yes"
		if c.NotNull {
			null = "no"
		}
		b.WriteString(fmt.Sprintf("| `%s` | %s | %s | %s | %s |\n", c.Name, md(c.Type), null, md(code(c.Default)), md(c.Comment)))
	}
	type conRow struct{ Name, Def string }
	cons, err := collect[conRow](ctx, q, `select c.conname::text, pg_get_constraintdef(c.oid)
		from pg_constraint c where c.conrelid = $1 order by c.contype, c.conname`, oid)
	if err != nil {
		return err
	}
	if len(cons) > 0 {
		b.WriteString("\nConstraints:\n\n")
		for _, c := range cons {
			b.WriteString(fmt.Sprintf("- `%s`: %s\n", c.Name, code(strings.Join(strings.Fields(c.Def), " "))))
		}
	}
	type polRow struct {
		Name, Cmd  string
		Permissive bool
		Roles      []string
		Comment    string
	}
	pols, err := collect[polRow](ctx, q, `
		select p.polname::text,
		       case p.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update' when 'd' then 'delete' else 'all' end,
		       p.polpermissive,
		       array(select case when r = 0 then 'public' else pg_get_userbyid(r)::text end from unnest(p.polroles) r order by 1),
		       coalesce(obj_description(p.oid, 'pg_policy'), '')
		from pg_policy p where p.polrelid = $1 order by p.polname`, oid)
	if err != nil {
		return err
	}
	if len(pols) > 0 {
		b.WriteString("\n| policy | command | to | description |\n|---|---|---|---|\n")
		for _, p := range pols {
			cmd := p.Cmd
			if !p.Permissive {
				cmd += " (restrictive)"
			}
			b.WriteString(fmt.Sprintf("| `%s` | %s | %s | %s |\n", p.Name, cmd, strings.Join(p.Roles, ", "), md(p.Comment)))
		}
	}
	type trgRow struct{ Name, Def string }
	trgs, err := collect[trgRow](ctx, q, `select t.tgname::text, pg_get_triggerdef(t.oid)
		from pg_trigger t where t.tgrelid = $1 and not t.tgisinternal order by t.tgname`, oid)
	if err != nil {
		return err
	}
	if len(trgs) > 0 {
		b.WriteString("\nTriggers:\n\n")
		for _, t := range trgs {
			// "CREATE TRIGGER name BEFORE INSERT ON public.t FOR EACH ROW
			// EXECUTE FUNCTION f()" → "BEFORE INSERT FOR EACH ROW EXECUTE
			// FUNCTION f()"
			def := strings.TrimPrefix(t.Def, "CREATE TRIGGER "+t.Name+" ")
			if i := strings.Index(def, " ON "); i >= 0 {
				if j := strings.Index(def[i+4:], " "); j >= 0 {
					def = def[:i] + def[i+4+j:]
				}
			}
			b.WriteString(fmt.Sprintf("- `%s`: %s\n", t.Name, code(def)))
		}
	}
	return nil
}

// firstComment is the leading comment block of a migration file, joined
// into one line.
func firstComment(sql string) string {
	var out []string
	for _, l := range strings.Split(sql, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "--") {
			if len(out) > 0 {
				break
			}
			continue
		}
		l = strings.TrimSpace(strings.TrimPrefix(l, "--"))
		if l == "" {
			if len(out) > 0 {
				break // the first paragraph
			}
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, " ")
}
