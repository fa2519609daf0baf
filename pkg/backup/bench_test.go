package backup_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/sfp-dev/sfp/internal/sfptest"
	"github.com/sfp-dev/sfp/pkg/backup"
	"github.com/sfp-dev/sfp/pkg/server/postgres"
)

// fill gives a tenant ~200,000 documents and 50,000 task events.
func fill(b *testing.B, r *running) {
	c := r.conn(b)
	exec1(b, c, `insert into public.accounts (id, name, slug) values ($1, 'Bench', 'bench')`, accountID)
	exec1(b, c, `insert into public.documents (account_id, collection, key, data)
		select $1, 'bench', 'doc-' || g, jsonb_build_object('n', g, 'title', 'document ' || g, 'tags', jsonb_build_array('a', 'b', g % 17), 'body', repeat(md5(g::text), 4))
		from generate_series(1, 200000) g`, accountID)
	exec1(b, c, `insert into public.task_executions (id, account_id, resource_type, resource_id, kind)
		select ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, $1, 'deployment', gen_random_uuid(), 'deploy'
		from generate_series(1, 1000) g`, accountID)
	exec1(b, c, `insert into public.task_events (account_id, task_id, event, status, progress, message)
		select $1, ('00000000-0000-4000-8000-' || lpad((1 + g % 1000)::text, 12, '0'))::uuid, 'progress', 'running', g % 100, 'step ' || g
		from generate_series(1, 50000) g`, accountID)
	exec1(b, c, `checkpoint`)
}

// BenchmarkBackupRestore compares sfp's backup (pg_basebackup streamed
// through tar and age, with a passphrase, a recipient key, or none) and restore (decrypt, extract, verify,
// recovery start) of a tenant holding ~200,000 documents and 50,000 task
// events with bare pg_basebackup and pg_dump of the same cluster, and a
// bare restore (untar and start), in the same run.
func BenchmarkBackupRestore(b *testing.B) {
	base := sfptest.BaseDir(b)
	pass := writeFile(b, base, "pass", "bench passphrase\n")
	src := newTenant(b, base, "bench", nil)
	fill(b, src)
	ctx := context.Background()
	bins := src.Inst.Cluster.Config().Binaries
	port := strconv.Itoa(src.T.Config.Postgres.Port)
	env := append(os.Environ(), "PGPASSWORD="+src.T.Secrets.PostgresPassword)
	var sfpB, plainB, keyB, bareB, sqlB, dumpB, sfpR, bareR time.Duration
	var size, bareSize, sqlSize int64
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		dir := filepath.Join(base, "run"+strconv.Itoa(i))
		os.MkdirAll(dir, 0o755)
		start := time.Now()
		res, err := backup.Backup(ctx, src.T, backup.Options{Output: filepath.Join(dir, "sfp.sfpbackup"), Encryption: backup.Encryption{PassphraseFile: pass}})
		if err != nil {
			b.Fatal(err)
		}
		sfpB += time.Since(start)
		size = res.Size
		start = time.Now()
		if _, err := backup.Backup(ctx, src.T, backup.Options{Output: filepath.Join(dir, "plain.sfpbackup"), Encryption: backup.Encryption{Unencrypted: true}}); err != nil {
			b.Fatal(err)
		}
		plainB += time.Since(start)
		start = time.Now()
		if _, err := backup.Backup(ctx, src.T, backup.Options{Output: filepath.Join(dir, "key.sfpbackup"), Encryption: backup.Encryption{Recipient: id.Recipient().String()}}); err != nil {
			b.Fatal(err)
		}
		keyB += time.Since(start)

		start = time.Now()
		run(b, env, bins.Path("pg_basebackup"), "-h", "127.0.0.1", "-p", port, "-U", "supabase_admin", "-D", filepath.Join(dir, "bare"), "-Ft", "-X", "stream", "-c", "fast")
		bareB += time.Since(start)
		bareSize = dirSize(filepath.Join(dir, "bare"))

		start = time.Now()
		sres, err := backup.Backup(ctx, src.T, backup.Options{Output: filepath.Join(dir, "sql.sfpbackup"), Kind: backup.KindSQL, Encryption: backup.Encryption{PassphraseFile: pass}})
		if err != nil {
			b.Fatal(err)
		}
		sqlB += time.Since(start)
		sqlSize = sres.Size
		start = time.Now()
		run(b, env, bins.Path("pg_dump"), "-h", "127.0.0.1", "-p", port, "-U", "supabase_admin", "-d", "postgres", "-f", filepath.Join(dir, "dump.sql"))
		dumpB += time.Since(start)

		start = time.Now()
		if _, err := backup.Restore(ctx, backup.RestoreOptions{Base: base, Name: "r" + strconv.Itoa(i), From: filepath.Join(dir, "sfp.sfpbackup"), Decryption: backup.Decryption{PassphraseFile: pass}}); err != nil {
			b.Fatal(err)
		}
		sfpR += time.Since(start)
		bareR += bareRestore(b, dir)
	}
	n := float64(b.N)
	b.ReportMetric(sfpB.Seconds()/n, "sfp-backup-s")
	b.ReportMetric(bareB.Seconds()/n, "pg_basebackup-s")
	b.ReportMetric(float64(sfpB)/float64(bareB), "backup-ratio")
	b.ReportMetric(float64(plainB)/float64(bareB), "unencrypted-backup-ratio")
	b.ReportMetric(float64(keyB)/float64(bareB), "recipient-backup-ratio")
	b.ReportMetric(float64(sqlB)/float64(dumpB), "sql-export-ratio")
	b.ReportMetric(sfpR.Seconds()/n, "sfp-restore-s")
	b.ReportMetric(bareR.Seconds()/n, "bare-restore-s")
	b.ReportMetric(float64(sfpR)/float64(bareR), "restore-ratio")
	b.ReportMetric(float64(size)/(1<<20), "backup-MiB")
	b.ReportMetric(float64(bareSize)/(1<<20), "pg_basebackup-MiB")
	b.ReportMetric(float64(sqlSize)/(1<<20), "sql-export-MiB")
}

// bareRestore untars a bare pg_basebackup and starts (and stops) a server
// on it: the part of a restore PostgreSQL needs anyway.
func bareRestore(b *testing.B, dir string) time.Duration {
	data := filepath.Join(dir, "bare-data")
	start := time.Now()
	os.MkdirAll(filepath.Join(data, "pg_wal"), 0o700)
	run(b, nil, "tar", "-xf", filepath.Join(dir, "bare", "base.tar"), "-C", data)
	run(b, nil, "tar", "-xf", filepath.Join(dir, "bare", "pg_wal.tar"), "-C", filepath.Join(data, "pg_wal"))
	_, p := freePorts(b)
	c, err := postgres.New(context.Background(), postgres.Config{DataDir: data, Port: p, SuperPassword: "x"})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Adopt(); err != nil {
		b.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	c.Stop(context.Background())
	return time.Since(start)
}

func run(b *testing.B, env []string, prog string, args ...string) {
	cmd := exec.Command(prog, args...)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v\n%s", prog, args, err, out)
	}
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
