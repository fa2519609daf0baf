package supabase_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sfp-dev/sfp/internal/pgtest"
)

// The benchmarks run each statement the way PostgREST runs a request: one
// transaction on an authenticator connection with role and
// request.jwt.claims set (db.AsRole). The cost of row-level security is the
// ratio of the same statement as an authenticated member (policies apply)
// to service_role (BYPASSRLS), measured in the same run:
//
//	BenchmarkX/service_role   baseline
//	BenchmarkX/member         reports member/service_role against the baseline above
//	BenchmarkX/interleaved    alternates the two in one loop, so load from
//	                          other processes hits both alike; reports the ratio
//	                          (the steadier figure on a shared machine)
//
// go test -run '^$' -bench . ./supabase/

type benchOp func(ctx context.Context, tx pgx.Tx, i int) error

// benchRLS measures op as service_role and as a member of the account. Each
// role has its own pool of authenticator connections: PostgreSQL re-plans a
// cached statement whose plan depends on row-level security when the role
// changes, and that cost belongs to connection sharing, not to the policies.
func benchRLS(b *testing.B, setup func(b *testing.B, db *pgtest.DB), op benchOp) {
	db := newFixtureDB(b)
	if setup != nil {
		setup(b, db)
	}
	ctx := context.Background()
	pools := map[string]*pgxpool.Pool{}
	for _, name := range []string{"service_role", "member"} {
		p, err := pgxpool.New(ctx, db.URL("authenticator"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(p.Close)
		pools[name] = p
	}
	claims := map[string]pgtest.Claims{"service_role": pgtest.Service(), "member": user(accA.Member)}
	run := func(role string, i int) error {
		return pgtest.Request(ctx, pools[role], claims[role], func(tx pgx.Tx) error { return op(ctx, tx, i) })
	}
	// Warm the pools and the plan caches of both roles.
	for i := 0; i < 50; i++ {
		for _, role := range []string{"service_role", "member"} {
			if err := run(role, i); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Each sub-benchmark starts from a vacuumed table: the write benchmarks
	// update the same rows tens of thousands of times, and without this the
	// second run would pay for the dead row versions the first one left.
	vacuum := func(b *testing.B) {
		b.StopTimer()
		if _, err := db.Admin(b).Exec(ctx, `vacuum (analyze) public.deployments, public.build_manifests`); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	var serviceNs float64
	for _, role := range []string{"service_role", "member"} {
		b.Run(role, func(b *testing.B) {
			vacuum(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := run(role, i); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(1e9/ns, "tx/s")
			if role == "service_role" {
				serviceNs = ns
			} else if serviceNs > 0 {
				b.ReportMetric(ns/serviceNs, "member/service_role")
			}
		})
	}
	b.Run("interleaved", func(b *testing.B) {
		var member, service time.Duration
		vacuum(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			if err := run("service_role", i); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if err := run("member", i); err != nil {
				b.Fatal(err)
			}
			member += time.Since(t1)
			service += t1.Sub(t0)
		}
		b.StopTimer()
		b.ReportMetric(float64(member.Nanoseconds())/float64(b.N), "member-ns/tx")
		b.ReportMetric(float64(service.Nanoseconds())/float64(b.N), "service-ns/tx")
		b.ReportMetric(float64(member)/float64(service), "member/service_role")
	})
}

const benchKeys = 1000

func benchKey(i int) string { return fmt.Sprintf("build-%04d", i%benchKeys) }

// BenchmarkDocPut: doc_put of a small manifest, replacing one of 1,000
// documents of the dedicated collection build_manifests.
func BenchmarkDocPut(b *testing.B) {
	benchRLS(b, nil, func(ctx context.Context, tx pgx.Tx, i int) error {
		var v int64
		return tx.QueryRow(ctx, `select version from public.doc_put($1, 'build_manifests', $2, $3)`,
			accA.Account, benchKey(i), fmt.Sprintf(`{"build": %d, "packages": ["core", "ui"]}`, i)).Scan(&v)
	})
}

// BenchmarkDocGet: doc_get of one of 1,000 documents.
func BenchmarkDocGet(b *testing.B) {
	benchRLS(b, func(b *testing.B, db *pgtest.DB) {
		db.Exec(b, `insert into public.build_manifests (account_id, collection, key, data)
			select $1, 'build_manifests', 'build-' || lpad(i::text, 4, '0'), jsonb_build_object('build', i, 'packages', '["core", "ui"]'::jsonb)
			from generate_series(0, $2 - 1) i`, accA.Account, benchKeys)
		db.Exec(b, `analyze public.build_manifests`)
	}, func(ctx context.Context, tx pgx.Tx, i int) error {
		var v int64
		return tx.QueryRow(ctx, `select version from public.doc_get($1, 'build_manifests', $2)`, accA.Account, benchKey(i)).Scan(&v)
	})
}

// BenchmarkDeploymentProgress: a worker's progress report, an UPDATE of a
// running deployment's progress and message.
func BenchmarkDeploymentProgress(b *testing.B) {
	benchRLS(b, nil, func(ctx context.Context, tx pgx.Tx, i int) error {
		tag, err := tx.Exec(ctx, `update public.deployments set progress = $1, message = $2 where id = $3`,
			i%100, fmt.Sprintf("step %d", i), accA.Deployment)
		if err == nil && tag.RowsAffected() != 1 {
			err = fmt.Errorf("updated %d deployments", tag.RowsAffected())
		}
		return err
	})
}

// BenchmarkDocList: one doc_list page of 100 of 1,000 documents, where the
// policy is evaluated for every row returned.
func BenchmarkDocList(b *testing.B) {
	benchRLS(b, func(b *testing.B, db *pgtest.DB) {
		db.Exec(b, `insert into public.build_manifests (account_id, collection, key, data)
			select $1, 'build_manifests', 'build-' || lpad(i::text, 4, '0'), jsonb_build_object('build', i)
			from generate_series(0, $2 - 1) i`, accA.Account, benchKeys)
		db.Exec(b, `analyze public.build_manifests`)
	}, func(ctx context.Context, tx pgx.Tx, i int) error {
		rows, err := tx.Query(ctx, `select key from public.doc_list($1, 'build_manifests', null, $2, 100)`,
			accA.Account, benchKey((i*100)%(benchKeys-100)))
		if err != nil {
			return err
		}
		keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err == nil && len(keys) != 100 {
			err = fmt.Errorf("page of %d documents, want 100", len(keys))
		}
		return err
	})
}
