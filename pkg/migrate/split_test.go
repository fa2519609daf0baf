package migrate

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want []Statement
	}{
		{"plain", "create table a (id int);\ninsert into a values (1);\n",
			[]Statement{{"create table a (id int)", 1, 1}, {"insert into a values (1)", 2, 1}}},
		{"no trailing semicolon", "select 1;  select 2", []Statement{{"select 1", 1, 1}, {"select 2", 1, 12}}},
		{"comments stay with the next statement", "-- first\nselect 1; /* a; b */ select 2;",
			[]Statement{{"-- first\nselect 1", 1, 1}, {"/* a; b */ select 2", 2, 11}}},
		{"nested block comment", "/* x /* y; */ z; */ select 1;", []Statement{{"/* x /* y; */ z; */ select 1", 1, 1}}},
		{"line comment with semicolon", "select 1 -- not; the end\n;", []Statement{{"select 1 -- not; the end", 1, 1}}},
		{"quoted strings", "select 'a;b', 'it''s;', \"we;ird\";select 2;",
			[]Statement{{"select 'a;b', 'it''s;', \"we;ird\"", 1, 1}, {"select 2", 1, 34}}},
		{"escape string", `select E'\';still', 1; select 2;`,
			[]Statement{{`select E'\';still', 1`, 1, 1}, {"select 2", 1, 24}}},
		{"dollar quotes", "create function f() returns int language sql as $$ select 1; $$;\ndo $body$ begin perform 1; end $body$;",
			[]Statement{{"create function f() returns int language sql as $$ select 1; $$", 1, 1}, {"do $body$ begin perform 1; end $body$", 2, 1}}},
		{"positional parameters are not dollar quotes", "prepare p as select $1; select 2;",
			[]Statement{{"prepare p as select $1", 1, 1}, {"select 2", 1, 25}}},
		{"begin atomic", "create function g() returns int language sql begin atomic select 1; select case when true then 2 end; end;\nselect 3;",
			[]Statement{{"create function g() returns int language sql begin atomic select 1; select case when true then 2 end; end", 1, 1}, {"select 3", 2, 1}}},
		{"empty statements dropped", ";;\n  ;select 1;", []Statement{{"select 1", 2, 4}}},
		{"unicode columns count characters", "select 'é';select 2;", []Statement{{"select 'é'", 1, 1}, {"select 2", 1, 12}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Split(tt.sql)); diff != "" {
				t.Errorf("Split(%q) mismatch (-want +got):\n%s", tt.sql, diff)
			}
		})
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{"select 1; select 2", "$$;$$", "'a;'; \"b;\"", "/* ; */;", "begin atomic ; end;", "E'\\';'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		for _, st := range Split(sql) {
			if st.SQL == "" || st.Line < 1 || st.Column < 1 {
				t.Fatalf("bad statement %+v from %q", st, sql)
			}
		}
	})
}
