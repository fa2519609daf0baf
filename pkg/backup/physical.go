package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sfp-dev/sfp/pkg/migrate"
	"github.com/sfp-dev/sfp/pkg/server/postgres"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// Progress is reported while a backup or restore runs: Done of Total bytes
// in a phase ("copying the database", "writing", "restoring").
type Progress struct {
	Phase       string
	Done, Total int64
}

// Options change Backup.
type Options struct {
	// Output is the backup file; default <backup dir>/<tenant>-<UTC time>.sfpbackup.
	Output     string
	Encryption Encryption
	// Kind is KindPhysical (default) or KindSQL.
	Kind     string
	Progress func(Progress)
	Now      func() time.Time
	// Docker is the db service of a docker tenant (pkg/runtime/docker).
	Docker ComposeDB

	scheduled bool // taken by the Scheduler (subject to backup.keep)
}

// Result describes a written backup (`sfp server backup --json`).
type Result struct {
	File          string    `json:"file"`
	Size          int64     `json:"size"`
	Kind          string    `json:"kind"`
	Encrypted     bool      `json:"encrypted"`
	Tenant        string    `json:"tenant"`
	SchemaVersion string    `json:"schema_version"`
	StartLSN      string    `json:"start_lsn,omitempty"`
	EndLSN        string    `json:"end_lsn,omitempty"`
	Timeline      int       `json:"timeline,omitempty"`
	StartedAt     time.Time `json:"started_at"`
	FinishedAt    time.Time `json:"finished_at"`
	// Scheduled backups are removed by backup.keep; others never are.
	Scheduled bool `json:"scheduled,omitempty"`
}

// FileSuffix is the extension of backup files.
const FileSuffix = ".sfpbackup"

// ErrNotRunning is returned when the tenant's database is not running.
var ErrNotRunning = errors.New("the tenant's database is not running")

// Backup takes an online backup of a tenant while it serves traffic (of
// an embedded tenant's cluster, or through opts.Docker of a docker
// tenant's db service). The file appears only when complete (written to a temporary
// file, synced, renamed), mode 0600.
func Backup(ctx context.Context, t *tenant.Tenant, opts Options) (*Result, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	recipient, err := opts.Encryption.recipient()
	if err != nil {
		return nil, err
	}
	res := &Result{Kind: KindPhysical, Tenant: t.Name(), Encrypted: recipient != nil, StartedAt: now().UTC(), Scheduled: opts.scheduled}
	if opts.Kind == KindSQL {
		res.Kind = KindSQL
	}
	src, err := openSource(ctx, t, opts.Docker)
	if err != nil {
		return nil, err
	}
	if res.SchemaVersion, err = src.schemaVersion(ctx); err != nil {
		return nil, fmt.Errorf("back up tenant %q: %w", t.Name(), err)
	}
	out := opts.Output
	if out == "" {
		out = filepath.Join(t.BackupDir(), t.Name()+"-"+res.StartedAt.Format("20060102T150405.000Z")+FileSuffix)
	}
	if out, err = filepath.Abs(out); err != nil {
		return nil, fmt.Errorf("back up tenant: %w", err)
	}
	res.File = out
	if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
		return nil, fmt.Errorf("back up tenant: %w", err)
	}
	removeStale(filepath.Dir(out))
	work, err := os.MkdirTemp(filepath.Dir(out), fmt.Sprintf(".sfp-backup-%d-*.partial", os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("back up tenant: %w", err)
	}
	defer os.RemoveAll(work)

	m := &Manifest{Format: FormatVersion, Kind: res.Kind, Runtime: string(t.Config.Runtime), Tenant: t.Name(), StartedAt: res.StartedAt,
		SchemaVersion: res.SchemaVersion, PostgresMajor: src.major, WALArchive: t.Config.Backup.WALArchive}
	size, err := writeArchive(out, work, recipient, m, t, func(tw *tar.Writer) error {
		if err := src.take(ctx, tw, work, opts.Progress, m); err != nil {
			return err
		}
		m.FinishedAt = now().UTC()
		return nil
	})
	if err != nil {
		return nil, diskFull(err, out)
	}
	res.FinishedAt, res.StartLSN, res.EndLSN, res.Timeline = m.FinishedAt, m.StartLSN, m.EndLSN, m.Timeline
	res.Size = size
	if err := updateCatalog(t, func(c *Catalog) { c.Backups = append(c.Backups, *res) }); err != nil {
		return res, err
	}
	return res, nil
}

// source is where a backup's data comes from: an embedded tenant's
// cluster, or a docker tenant's db service.
type source struct {
	t       *tenant.Tenant
	cluster *postgres.Cluster // embedded
	docker  ComposeDB         // docker
	major   int               // PostgreSQL major version, 0 if unknown
}

func openSource(ctx context.Context, t *tenant.Tenant, docker ComposeDB) (*source, error) {
	switch t.Config.Runtime {
	case tenant.RuntimeDocker:
		if docker == nil {
			return nil, fmt.Errorf("back up tenant %q: the docker runtime is not available here", t.Name())
		}
		// The cluster's major version, for restore to check against the
		// db image it loads the cluster under (0: unknown, not checked).
		var v bytes.Buffer
		major := 0
		if err := docker.ExecDB(ctx, t, []string{"cat", "/var/lib/postgresql/data/PG_VERSION"}, &v); err == nil {
			major, _ = strconv.Atoi(strings.TrimSpace(v.String()))
		}
		return &source{t: t, docker: docker, major: major}, nil
	case tenant.RuntimeEmbedded:
	default:
		return nil, fmt.Errorf("back up tenant %q: unknown runtime %q", t.Name(), t.Config.Runtime)
	}
	cluster, err := postgres.New(ctx, postgres.Config{DataDir: t.DataDir(), Port: t.Config.Postgres.Port, LogFile: t.PostgresLog()})
	if err != nil {
		return nil, err
	}
	if _, up := cluster.Pid(); !up {
		return nil, fmt.Errorf("back up tenant %q: %w; start it with `sfp server start -t %s -d` (backups are taken online)", t.Name(), ErrNotRunning, t.Name())
	}
	return &source{t: t, cluster: cluster, major: cluster.Config().Binaries.Major}, nil
}

func (s *source) schemaVersion(ctx context.Context) (string, error) {
	if s.docker != nil {
		return s.docker.SchemaVersion(ctx, s.t)
	}
	return schemaVersion(ctx, s.cluster.ConnString("supabase_admin", s.t.Secrets.PostgresPassword, "postgres"))
}

// take writes the backup's data entries: the physical backup streamed
// from the cluster, or the files the other kinds produce in work.
func (s *source) take(ctx context.Context, tw *tar.Writer, work string, progress func(Progress), m *Manifest) error {
	var entries []fileEntry
	var err error
	switch {
	case s.docker != nil:
		entries, err = dockerBackup(ctx, s.docker, s.t, m.Kind, work)
	case m.Kind == KindSQL:
		entries, err = dumpSQL(ctx, s.cluster, s.t, work, progress)
	default:
		return streamBase(ctx, s.cluster, s.t, tw, progress, m)
	}
	if err != nil {
		return err
	}
	return addFiles(tw, entries, progress)
}

// fileEntry is a file of the work directory that goes into the archive.
type fileEntry struct{ name, path string }

func schemaVersion(ctx context.Context, url string) (string, error) {
	conn, err := migrate.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return migrate.Latest(ctx, conn)
}

// streamBase streams pg_basebackup's tar (the cluster, the WAL the
// backup needs fetched at its end, and its backup_manifest) into the
// archive, entry by entry, in one pass. A temporary replication slot held
// for the duration keeps every WAL segment from before the backup's start,
// so none it needs is recycled however busy the tenant is; it is dropped
// when the connection closes, also when sfp is killed.
func streamBase(ctx context.Context, cluster *postgres.Cluster, t *tenant.Tenant, tw *tar.Writer, progress func(Progress), m *Manifest) error {
	conn, err := migrate.Connect(ctx, cluster.ConnString("supabase_admin", t.Secrets.PostgresPassword, "postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	slot := fmt.Sprintf("sfp_backup_%d_%d", os.Getpid(), time.Now().UnixNano()%1_000_000_000)
	if _, err := conn.Exec(ctx, `select pg_create_physical_replication_slot($1, true, true)`, slot); err != nil {
		return fmt.Errorf("back up tenant %q: reserve WAL: %w", t.Name(), err)
	}
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(cluster.Port()), "-U", postgres.DefaultSuperUser, "--no-password",
		"-D", "-", "--format=tar", "--wal-method=fetch", "--checkpoint=fast", "--progress", "--label=sfp backup of " + t.Name()}
	var pgManifest []byte
	err = runTool(ctx, cluster.Config().Binaries.Path("pg_basebackup"), args, t.Secrets.PostgresPassword, "copying the database", progress,
		func(stdout io.Reader) error {
			var err error
			pgManifest, err = copyBaseTar(stdout, tw)
			return err
		})
	if err != nil {
		return fmt.Errorf("back up tenant %q: pg_basebackup: %w", t.Name(), err)
	}
	return readWALRange(pgManifest, m)
}

// copyBaseTar copies the entries of pg_basebackup's tar into the archive
// under pgdata/, and returns its backup_manifest.
func copyBaseTar(r io.Reader, tw *tar.Writer) ([]byte, error) {
	tr := tar.NewReader(r)
	var manifest []byte
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return manifest, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read pg_basebackup's output: %w", err)
		}
		out := *h
		out.Name = "pgdata/" + strings.TrimPrefix(h.Name, "./")
		out.Format = tar.FormatPAX
		out.Uname, out.Gname = "", ""
		if err := tw.WriteHeader(&out); err != nil {
			return nil, fmt.Errorf("write backup entry %s: %w", out.Name, err)
		}
		var src io.Reader = tr
		var buf bytes.Buffer
		if out.Name == entryPGManifest {
			src = io.TeeReader(tr, &buf)
		}
		if _, err := io.Copy(tw, src); err != nil {
			return nil, fmt.Errorf("write backup entry %s: %w", out.Name, err)
		}
		if out.Name == entryPGManifest {
			manifest = buf.Bytes()
		}
	}
}

// readWALRange takes the backup's WAL range from pg_basebackup's manifest.
func readWALRange(raw []byte, m *Manifest) error {
	var pm struct {
		WALRanges []struct {
			Timeline int    `json:"Timeline"`
			Start    string `json:"Start-LSN"`
			End      string `json:"End-LSN"`
		} `json:"WAL-Ranges"`
	}
	if err := json.Unmarshal(raw, &pm); err != nil || len(pm.WALRanges) == 0 {
		return fmt.Errorf("back up tenant: pg_basebackup's manifest has no WAL range (%v)", err)
	}
	w := pm.WALRanges[len(pm.WALRanges)-1]
	m.Timeline, m.StartLSN, m.EndLSN = w.Timeline, pm.WALRanges[0].Start, w.End
	return nil
}

// removeStale removes what a killed backup left in dir: its work directory
// and temporary file, named after its process, which no longer runs.
func removeStale(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		name := e.Name()
		if pidStr, ok := strings.CutPrefix(name, ".sfp-backup-"); ok && strings.HasSuffix(name, ".partial") {
			pid, _ := strconv.Atoi(strings.SplitN(pidStr, "-", 2)[0])
			if pid > 0 && pid != os.Getpid() && syscall.Kill(pid, 0) == nil {
				continue
			}
			os.RemoveAll(filepath.Join(dir, name))
		}
	}
}

// diskFull names a full disk (or a file size limit) as such: the write
// errors of Go and of pg_basebackup say it in their own words.
func diskFull(err error, out string) error {
	msg := err.Error()
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EFBIG) || strings.Contains(msg, "No space left on device") ||
		strings.Contains(msg, "file size limit exceeded") || strings.Contains(msg, "File too large") {
		return fmt.Errorf("the disk holding %s is full or a file size limit was reached; free space or write the backup elsewhere (--output): %w", filepath.Dir(out), err)
	}
	return err
}
