// Package migrate applies the tenant schema (supabase/migrations) to a
// PostgreSQL database and records it in supabase_migrations.schema_migrations
// exactly as the Supabase CLI does, so `supabase migration list` and sfp
// agree about any database.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Migration is one migration file.
type Migration struct {
	Version    string // 14 digits
	Name       string // the part after the underscore, without .sql
	File       string // file name
	Statements []Statement
}

// Texts returns the statements as stored in the history table.
func (m Migration) Texts() []string {
	out := make([]string, len(m.Statements))
	for i, s := range m.Statements {
		out[i] = s.SQL
	}
	return out
}

var fileRE = regexp.MustCompile(`^([0-9]{14})_([^/]+)\.sql$`)

// Load reads the migrations at the root of fsys, ordered by version. Files
// that do not end in .sql are ignored; a .sql file whose name is not
// <14 digits>_<name>.sql, or two files with one version, is an error.
func Load(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	seen := map[string]string{}
	var out []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		m := fileRE.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("load migrations: file name %q does not match <14 digits>_<name>.sql", e.Name())
		}
		if prev, dup := seen[m[1]]; dup {
			return nil, fmt.Errorf("load migrations: %s and %s have the same version %s", prev, e.Name(), m[1])
		}
		seen[m[1]] = e.Name()
		raw, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("load migrations: %w", err)
		}
		out = append(out, Migration{Version: m[1], Name: m[2], File: e.Name(), Statements: Split(string(raw))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// SQL of the history table, as the Supabase CLI creates and writes it.
const (
	createHistorySchema = `create schema if not exists supabase_migrations`
	createHistoryTable  = `create table if not exists supabase_migrations.schema_migrations (version text not null primary key)`
	addStatementsColumn = `alter table supabase_migrations.schema_migrations add column if not exists statements text[]`
	addNameColumn       = `alter table supabase_migrations.schema_migrations add column if not exists name text`
	insertVersion       = `insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)`
	selectHistory       = `select version, coalesce(name, '') from supabase_migrations.schema_migrations order by version`
	historyExists       = `select to_regclass('supabase_migrations.schema_migrations') is not null`
	// lockKey serialises migration runners on one database (session-level
	// advisory lock; any 64-bit constant unique to sfp).
	lockKey      = int64(0x7366705f6d696772) // "sfp_migr"
	notifyReload = `notify pgrst, 'reload schema'`
)

// State of a version in Status.
const (
	StateApplied = "applied" // in the database and known to this binary
	StatePending = "pending" // known to this binary, not yet applied
	StateUnknown = "unknown" // in the database, unknown to this binary
)

// VersionStatus is one row of Status.
type VersionStatus struct {
	Version string `json:"version"`
	Name    string `json:"name"`
	State   string `json:"state"`
}

// UnknownVersionsError is returned when the database records migrations this
// binary does not have: it was migrated by a newer sfp (or by hand).
type UnknownVersionsError struct{ Versions []string }

func (e *UnknownVersionsError) Error() string {
	return fmt.Sprintf("the database has migration(s) %s that this sfp binary does not know; "+
		"it was migrated by a newer sfp: upgrade sfp before migrating it", strings.Join(e.Versions, ", "))
}

// OutOfOrderError is returned when a migration older than the newest applied
// one is still pending (as `supabase db push` refuses without --include-all).
type OutOfOrderError struct{ Pending, Latest string }

func (e *OutOfOrderError) Error() string {
	return fmt.Sprintf("migration %s is pending but older than the latest applied migration %s; "+
		"rename it to a newer version", e.Pending, e.Latest)
}

// Error is a failed migration: the file was rolled back whole.
type Error struct {
	File      string
	Index     int // 1-based statement number in the file
	Line, Col int // where in the file the error is
	Statement string
	Err       error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "migration %s failed at statement %d (line %d, column %d): %v", e.File, e.Index, e.Line, e.Col, e.Err)
	if e.Statement != "" {
		b.WriteString("\n")
		b.WriteString(e.Statement)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Runner applies a fixed set of migrations.
type Runner struct {
	Migrations []Migration
	Logger     *slog.Logger
}

// NewRunner loads the migrations in fsys.
func NewRunner(fsys fs.FS, logger *slog.Logger) (*Runner, error) {
	ms, err := Load(fsys)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{Migrations: ms, Logger: logger}, nil
}

// Status lists every version known to the binary or recorded in the
// database, in version order.
func (r *Runner) Status(ctx context.Context, conn *pgx.Conn) ([]VersionStatus, error) {
	applied, err := readHistory(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	return r.status(applied), nil
}

func (r *Runner) status(applied map[string]string) []VersionStatus {
	var out []VersionStatus
	known := map[string]bool{}
	for _, m := range r.Migrations {
		known[m.Version] = true
		st := StatePending
		if _, ok := applied[m.Version]; ok {
			st = StateApplied
		}
		out = append(out, VersionStatus{Version: m.Version, Name: m.Name, State: st})
	}
	for v, name := range applied {
		if !known[v] {
			out = append(out, VersionStatus{Version: v, Name: name, State: StateUnknown})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

func readHistory(ctx context.Context, conn *pgx.Conn) (map[string]string, error) {
	var exists bool
	if err := conn.QueryRow(ctx, historyExists).Scan(&exists); err != nil {
		return nil, fmt.Errorf("read migration history: %w", err)
	}
	applied := map[string]string{}
	if !exists {
		return applied, nil
	}
	rows, err := conn.Query(ctx, selectHistory)
	if err != nil {
		return nil, fmt.Errorf("read migration history: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v, n string
		if err := rows.Scan(&v, &n); err != nil {
			return nil, fmt.Errorf("read migration history: %w", err)
		}
		applied[v] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read migration history: %w", err)
	}
	return applied, nil
}

// Options change what Apply does.
type Options struct {
	DryRun bool // report what would be applied, change nothing
	// OnApply is called before each migration is applied (progress output).
	OnApply func(Migration)
}

// Apply applies every pending migration in version order, each file in its
// own transaction together with its history row. Concurrent runners on one
// database are serialised with an advisory lock, so each file is applied
// exactly once. A failing file is rolled back whole and returned as *Error;
// the files before it stay applied. When anything was applied it sends
// `notify pgrst, 'reload schema'`. It returns the migrations it applied (or,
// with DryRun, would apply).
func (r *Runner) Apply(ctx context.Context, conn *pgx.Conn, opts Options) ([]Migration, error) {
	if _, err := conn.Exec(ctx, "select pg_advisory_lock($1)", lockKey); err != nil {
		return nil, fmt.Errorf("apply migrations: take lock: %w", err)
	}
	defer func() {
		// Unlock even when ctx is done; the session would release it anyway.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "select pg_advisory_unlock($1)", lockKey)
	}()

	if !opts.DryRun {
		// One round trip (every start runs this).
		stmts := strings.Join([]string{createHistorySchema, createHistoryTable, addStatementsColumn, addNameColumn}, ";\n")
		if _, err := conn.PgConn().Exec(ctx, stmts).ReadAll(); err != nil {
			return nil, fmt.Errorf("apply migrations: create history table: %w", err)
		}
	}
	applied, err := readHistory(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("apply migrations: %w", err)
	}
	pending, err := r.pending(applied)
	if err != nil {
		return nil, fmt.Errorf("apply migrations: %w", err)
	}
	if opts.DryRun {
		return pending, nil
	}
	var done []Migration
	for _, m := range pending {
		if opts.OnApply != nil {
			opts.OnApply(m)
		}
		r.Logger.Info("applying migration", "file", m.File)
		if err := applyOne(ctx, conn, m); err != nil {
			return done, err
		}
		done = append(done, m)
	}
	if len(done) > 0 {
		if _, err := conn.Exec(ctx, notifyReload); err != nil {
			return done, fmt.Errorf("apply migrations: notify schema reload: %w", err)
		}
	}
	return done, nil
}

func (r *Runner) pending(applied map[string]string) ([]Migration, error) {
	known := map[string]bool{}
	for _, m := range r.Migrations {
		known[m.Version] = true
	}
	var unknown []string
	latest := ""
	for v := range applied {
		if !known[v] {
			unknown = append(unknown, v)
		}
		if v > latest {
			latest = v
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, &UnknownVersionsError{Versions: unknown}
	}
	var pending []Migration
	for _, m := range r.Migrations {
		if _, ok := applied[m.Version]; ok {
			continue
		}
		if m.Version < latest {
			return nil, &OutOfOrderError{Pending: m.Version, Latest: latest}
		}
		pending = append(pending, m)
	}
	return pending, nil
}

// applyOne applies one file in its own transaction. The whole file goes to
// the server as one multi-statement query (one round trip instead of one per
// statement: a first start applies hundreds of statements). Only when that
// fails does the file run again statement by statement, in a new
// transaction, to say which statement failed and where.
func applyOne(ctx context.Context, conn *pgx.Conn, m Migration) error {
	err := applyWhole(ctx, conn, m)
	var pgErr *pgconn.PgError
	if err == nil || !errors.As(err, &pgErr) {
		return err
	}
	return applyStatements(ctx, conn, m)
}

// applyWhole runs the file's statements as one query and records the
// version, in one transaction.
func applyWhole(ctx context.Context, conn *pgx.Conn, m Migration) error {
	var b strings.Builder
	for _, st := range m.Statements {
		// A newline first: a statement may end in a -- comment.
		b.WriteString(st.SQL)
		b.WriteString("\n;\n")
	}
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := conn.PgConn().Exec(ctx, b.String()).ReadAll(); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, insertVersion, m.Version, m.Name, m.Texts()); err != nil {
			return fmt.Errorf("apply %s: record version: %w", m.File, err)
		}
		return nil
	})
}

// applyStatements applies the file one statement at a time, so a failure
// names its statement.
func applyStatements(ctx context.Context, conn *pgx.Conn, m Migration) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("apply %s: begin: %w", m.File, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	for i, st := range m.Statements {
		if _, err := conn.PgConn().Exec(ctx, st.SQL).ReadAll(); err != nil {
			return statementError(m, i, err)
		}
	}
	if _, err := tx.Exec(ctx, insertVersion, m.Version, m.Name, m.Texts()); err != nil {
		return fmt.Errorf("apply %s: record version: %w", m.File, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("apply %s: commit: %w", m.File, err)
	}
	return nil
}

// statementError locates a failure in the file and marks the position.
func statementError(m Migration, i int, err error) error {
	st := m.Statements[i]
	e := &Error{File: m.File, Index: i + 1, Line: st.Line, Col: st.Column, Err: err}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Position > 0 {
		// Position counts characters from 1 within the statement text.
		runes := []rune(st.SQL)
		pos := int(pgErr.Position) - 1
		if pos > len(runes) {
			pos = len(runes)
		}
		before := string(runes[:pos])
		lineInStmt := strings.Count(before, "\n")
		colInLine := len([]rune(before[strings.LastIndexByte(before, '\n')+1:]))
		e.Line = st.Line + lineInStmt
		if lineInStmt == 0 {
			e.Col = st.Column + colInLine
		} else {
			e.Col = colInLine + 1
		}
		e.Statement = markLine(st.SQL, lineInStmt, colInLine)
	} else {
		e.Statement = st.SQL
	}
	return e
}

// markLine returns the statement up to the failing line with a caret under
// the failing column.
func markLine(stmt string, line, col int) string {
	lines := strings.Split(stmt, "\n")
	if line >= len(lines) {
		return stmt
	}
	out := append([]string{}, lines[:line+1]...)
	out = append(out, strings.Repeat(" ", col)+"^")
	return strings.Join(out, "\n")
}

// Latest returns the newest applied version ("" when none).
func Latest(ctx context.Context, conn *pgx.Conn) (string, error) {
	applied, err := readHistory(ctx, conn)
	if err != nil {
		return "", err
	}
	latest := ""
	for v := range applied {
		if v > latest {
			latest = v
		}
	}
	return latest, nil
}
