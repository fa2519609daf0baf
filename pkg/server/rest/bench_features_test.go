package rest

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
)

// benchFilmsSQL adds 300 films with three actors each (through the roles
// junction) and 3,000 orders of 300 customers to the films fixture.
const benchFilmsSQL = `
insert into public.films select g, 'Film ' || g, 1900 + g % 120 from generate_series(100, 399) g;
insert into public.actors select g, 'First' || g, 'Last' || g from generate_series(100, 299) g;
insert into public.roles select f, 100 + (f + k) % 200, 'Role' from generate_series(100, 399) f, unnest(array[0, 67, 133]) k;
insert into public.customers select g, 'Customer ' || g, 'C' || g % 7 from generate_series(100, 399) g;
insert into public.orders select g, 100 + g % 300, (g % 97) + 0.5, 'paid' from generate_series(100, 3099) g;`

// The baselines' statements for the films benchmarks: the SQL a
// hand-written pgx application would run for the same responses.
const (
	listM2MSQL = `select coalesce(json_agg(t), '[]')::text from (
		select f.id, f.title, coalesce(a.j, '[]') as actors
		from public.films f left join lateral (
			select json_agg(r) as j from (
				select x.first_name, x.last_name from public.actors x join public.roles ro on ro.actor_id = x.id
				where ro.film_id = f.id) r) a on true
		order by f.id limit 100 offset $1) t`
	listAggregateSQL = `select coalesce(json_agg(t), '[]')::text from (
		select o.customer_id, sum(o.amount) as total, count(*) as n
		from public.orders o group by o.customer_id
		order by o.customer_id limit 100 offset $1) t`
)

// benchList runs a 100-row list through the four sides of compare.
func benchList(b *testing.B, path, baseline, marker string) {
	be := newBenchEnv(b, filmsSQL, benchFilmsSQL)
	tok := userJWT(uidReader)
	check := func(i int, body []byte) error {
		if !bytes.HasPrefix(body, []byte(`[{"`)) || bytes.Count(body, []byte(marker)) != 100 {
			return fmt.Errorf("list at offset %d: unexpected body %.300s", i%100, body)
		}
		return nil
	}
	target := func(prefix string) func(int) string {
		return func(i int) string { return prefix + path + strconv.Itoa(i%100) }
	}
	args := func(i int) []string { return []string{strconv.Itoa(i % 100)} }
	base := &side{name: "pgx", op: pgxOp(be.pgxPool, userClaims(uidReader), baseline, args, check)}
	shared := &side{name: "pgxshared", op: sharedOp(b, be.sharedPool, userClaims(uidReader), baseline, args, check)}
	gw := &side{name: "gw", op: getOp(be.gatewayClients(tok), target("/rest/v1"), check)}
	rest := &side{name: "rest", op: getOp(be.restClients(tok), target(""), check)}
	compare(b, be, b.N, base, gw, rest, shared)
	report(b, base, gw, rest, shared)
}

// BenchmarkList100ManyToMany: 100 films with their actors embedded
// through the roles junction.
func BenchmarkList100ManyToMany(b *testing.B) {
	benchList(b, "/films?select=id,title,actors(first_name,last_name)&order=id&limit=100&offset=", listM2MSQL, `"actors":[`)
}

// BenchmarkList100Aggregate: 100 customers' order totals and counts,
// grouped by the database.
func BenchmarkList100Aggregate(b *testing.B) {
	benchList(b, "/orders?select=customer_id,total:amount.sum(),n:count()&order=customer_id&limit=100&offset=", listAggregateSQL, `"total":`)
}
