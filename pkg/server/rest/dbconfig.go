package rest

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// PostgREST's in-database configuration: pgrst.* settings on the
// authenticator role (ALTER ROLE authenticator SET
// pgrst.db_aggregates_enabled = 'true', for every database or IN DATABASE,
// the database's winning) and the function named by pgrst.db_pre_config,
// whose set_config calls override them. Both are read when the server
// starts and on NOTIFY pgrst, 'reload config'; they override Config, as
// PostgREST's override its file and environment.

// runConfig is the configuration requests use: Config with the
// database's settings applied. The server swaps it whole on reload.
type runConfig struct {
	maxRows    int64
	aggregates bool
	plan       bool
	// preRequest is the call of db-pre-request ("" for none).
	preRequest string
	// paths are the search_path of each exposed schema (the schema, then
	// the extra search path).
	paths map[string]string
}

// dbSettingNames are the pgrst.* settings the embedded server honours.
var dbSettingNames = []string{
	"pgrst.db_aggregates_enabled", "pgrst.db_extra_search_path", "pgrst.db_max_rows",
	"pgrst.db_plan_enabled", "pgrst.db_pre_config", "pgrst.db_pre_request",
}

// dbSettingsSQL reads the pgrst.* settings of the connected role, the
// current database's over those for every database.
const dbSettingsSQL = `
select distinct on (k) k, v from (
  select substr(x, 1, strpos(x, '=') - 1) as k, substr(x, strpos(x, '=') + 1) as v, s.setdatabase
  from pg_catalog.pg_db_role_setting s, unnest(s.setconfig) as x
  where s.setrole = (select oid from pg_catalog.pg_roles where rolname = current_user)
    and s.setdatabase in (0, (select oid from pg_catalog.pg_database where datname = current_database()))
) kv
where k = any($1)
order by k, setdatabase desc`

// currentSettingsSQL reads the session's values of the settings.
const currentSettingsSQL = `select n, coalesce(current_setting(n, true), '') from unnest($1::text[]) as n`

// readDBSettings reads the role's pgrst.* settings and runs the
// pre-config function, in a read-only transaction of tx.
func readDBSettings(ctx context.Context, tx pgx.Tx) (map[string]string, error) {
	out, err := querySettings(ctx, tx, dbSettingsSQL, "role settings")
	if err != nil {
		return nil, err
	}
	fn := out["pgrst.db_pre_config"]
	if fn == "" {
		return out, nil
	}
	// The function's set_config calls win over the role's settings. The
	// session may hold the role's values from when it logged in: only
	// what the function changed counts.
	before, err := currentSettings(ctx, tx)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, "select "+qualifiedCall(fn)); err != nil {
		return nil, fmt.Errorf("call db-pre-config %s: %w", fn, err)
	}
	after, err := currentSettings(ctx, tx)
	if err != nil {
		return nil, err
	}
	for k, v := range after {
		if v != before[k] {
			out[k] = v
		}
	}
	return out, nil
}

func currentSettings(ctx context.Context, tx pgx.Tx) (map[string]string, error) {
	return querySettings(ctx, tx, currentSettingsSQL, "settings")
}

// querySettings runs sql, a query of the pgrst settings' (name, value)
// pairs, and collects them; what names them in errors.
func querySettings(ctx context.Context, tx pgx.Tx, sql, what string) (map[string]string, error) {
	rows, err := tx.Query(ctx, sql, dbSettingNames)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("read %s: %w", what, err)
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	return out, nil
}

// qualifiedCall is the call of a function named "schema.name" or "name"
// (PostgREST's db-pre-request and db-pre-config), each part quoted.
func qualifiedCall(name string) string {
	var parts []string
	for _, p := range strings.SplitN(strings.TrimSpace(name), ".", 2) {
		parts = append(parts, quoteIdent(strings.TrimSpace(p)))
	}
	return strings.Join(parts, ".") + "()"
}

// parseBool reads a boolean setting as PostgREST does.
func parseBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "on", "yes", "1":
		return true, true
	case "false", "off", "no", "0":
		return false, true
	}
	return false, false
}

// buildRunConfig applies the database's settings to cfg; a setting that
// does not parse is logged and left as cfg has it.
func (s *Server) buildRunConfig(db map[string]string) *runConfig {
	cfg := &s.cfg
	rc := &runConfig{maxRows: int64(cfg.MaxRows), aggregates: cfg.AggregatesEnabled, plan: cfg.PlanEnabled, paths: map[string]string{}}
	extra := cfg.ExtraSearchPath
	pre := cfg.PreRequest
	bad := func(k, v string) {
		s.log.Warn("in-database configuration: ignoring a bad value", "setting", k, "value", v)
	}
	for k, v := range db {
		switch k {
		case "pgrst.db_aggregates_enabled", "pgrst.db_plan_enabled":
			b, ok := parseBool(v)
			if !ok {
				bad(k, v)
			} else if k == "pgrst.db_plan_enabled" {
				rc.plan = b
			} else {
				rc.aggregates = b
			}
		case "pgrst.db_max_rows":
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n < 0 {
				bad(k, v)
			} else {
				rc.maxRows = n
			}
		case "pgrst.db_extra_search_path":
			extra = nil
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					extra = append(extra, p)
				}
			}
		case "pgrst.db_pre_request":
			pre = strings.TrimSpace(v)
		}
	}
	if pre != "" {
		rc.preRequest = "select " + qualifiedCall(pre)
	}
	for _, sch := range cfg.Schemas {
		parts := []string{quoteIdent(sch)}
		for _, e := range extra {
			if e != sch {
				parts = append(parts, quoteIdent(e))
			}
		}
		rc.paths[sch] = strings.Join(parts, ", ")
	}
	return rc
}

// ReloadConfig reads the in-database configuration again and swaps it in;
// requests under way keep the configuration they started with.
func (s *Server) ReloadConfig(ctx context.Context) error {
	conn, err := s.cfg.Pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("load in-database configuration: %w", err)
	}
	defer conn.Release()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("load in-database configuration: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	db, err := readDBSettings(ctx, tx)
	if err != nil {
		return fmt.Errorf("load in-database configuration: %w", err)
	}
	s.conf.Store(s.buildRunConfig(db))
	return nil
}
