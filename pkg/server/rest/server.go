package rest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sfp-dev/sfp/pkg/jwtkeys"
	"github.com/sfp-dev/sfp/pkg/server/backoff"
	"github.com/sfp-dev/sfp/pkg/server/postgres"
	"github.com/sfp-dev/sfp/pkg/server/rest/pgexec"
)

// Config configures a Server.
type Config struct {
	// Pool is connected as authenticator (LOGIN NOINHERIT, member of the
	// API roles).
	Pool *pgxpool.Pool
	// ListenConnString is where to LISTEN pgrst for schema reloads; "" uses
	// the Pool's connection config.
	ListenConnString string
	// Keys verify bearer tokens: ES256 tokens by their kid, HMAC tokens
	// with the legacy secret while the set has it (PostgREST given a JWKS as
	// jwt-secret). The runtime replaces the Set when the tenant's keys
	// change. Nil: JWTSecret alone.
	Keys *jwtkeys.Ring
	// JWTSecret is the HS256 shared secret (at least 32 bytes), used when
	// Keys is nil.
	JWTSecret []byte
	// Schemas are the exposed schemas; the first is the default. Default ["public"].
	Schemas []string
	// AnonRole is the role of requests without a JWT. Default "anon".
	AnonRole string
	// MaxRows caps the rows a read returns (db-max-rows). Default 1000, as Supabase.
	MaxRows int
	// ExtraSearchPath is appended to the request schema in search_path.
	// Default ["public", "extensions"].
	ExtraSearchPath []string
	// AggregatesEnabled allows aggregate functions in select
	// (db-aggregates-enabled). Default false, as PostgREST.
	AggregatesEnabled bool
	// PlanEnabled answers Accept: application/vnd.pgrst.plan with the
	// statement's EXPLAIN (db-plan-enabled). Default false.
	PlanEnabled bool
	// PreRequest is a function ("schema.name" or "name") called at the
	// start of every request's transaction, after its settings
	// (db-pre-request). Default none.
	PreRequest string
	// The in-database configuration (pgrst.* settings of the role the
	// Pool logs in as, and pgrst.db_pre_config) overrides MaxRows,
	// ExtraSearchPath, AggregatesEnabled, PlanEnabled and PreRequest; see
	// docs/rest.md.
	// MaxBodyBytes limits request bodies. Default 10 MiB.
	MaxBodyBytes int64
	// SharedReadConns is how many of the Pool's connections read-only
	// requests share, their pipelines sent back to back (pgexec); the
	// shared connections stay out of the pool while the server runs.
	// Default the number of CPUs Go uses (PostgreSQL runs on the same
	// machine), at most a quarter of the pool's MaxConns (so none for a
	// pool of fewer than 4); negative turns sharing off (every request
	// takes a connection of its own).
	SharedReadConns int
	// SharedReadDepth is how many reads may be in flight on one shared
	// connection. Default 8.
	SharedReadDepth int
	Logger          *slog.Logger
}

func (c *Config) applyDefaults() error {
	if c.Pool == nil {
		return errors.New("rest config: Pool is required")
	}
	if c.Keys == nil {
		if len(c.JWTSecret) < 32 {
			return fmt.Errorf("rest config: JWTSecret must be at least 32 bytes, got %d", len(c.JWTSecret))
		}
		c.Keys = jwtkeys.NewRing(jwtkeys.LegacySet(c.JWTSecret))
	}
	if len(c.Schemas) == 0 {
		c.Schemas = []string{"public"}
	}
	if c.AnonRole == "" {
		c.AnonRole = "anon"
	}
	if c.MaxRows == 0 {
		c.MaxRows = 1000
	}
	if c.MaxRows < 0 {
		c.MaxRows = 0
	}
	if c.ExtraSearchPath == nil {
		c.ExtraSearchPath = []string{"public", "extensions"}
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 10 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.SharedReadConns == 0 {
		c.SharedReadConns = min(runtime.GOMAXPROCS(0), int(c.Pool.Config().MaxConns)/4)
	}
	if c.SharedReadDepth <= 0 {
		c.SharedReadDepth = 8
	}
	return nil
}

// snapshot is the schema cache plus what else is read with it.
type snapshot struct {
	*Schema
	// roleSettings are the per-role settings (ALTER ROLE … SET) applied to
	// each request, as PostgREST v12+ does for the impersonated role.
	roleSettings map[string][2][]string
	timezones    zoneSet
}

// Server is the REST server. It is safe for concurrent use.
type Server struct {
	cfg    Config
	log    *slog.Logger
	cache  atomic.Pointer[snapshot]
	zones  *lazyZones
	conf   atomic.Pointer[runConfig]
	anon   *authResult
	jwts   jwtCache
	reload sync.Mutex
	exec   *pgexec.Executor
	// unavailableLog keeps an outage of the database (every request
	// answered 503) to a line a second in the log.
	unavailableLog postgres.LogLimiter

	cancel context.CancelFunc
	done   chan struct{}
}

// New loads the schema cache and starts the reload listener.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.applyDefaults(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	s.zones = &lazyZones{pool: cfg.Pool, log: cfg.Logger}
	s.anon = &authResult{role: cfg.AnonRole, claims: []byte(`{"role":` + string(appendJSONString(nil, cfg.AnonRole)) + `}`)}
	// The reload listener connects while the schema cache loads (a new
	// connection is a good part of a tenant's start).
	lctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done = make(chan struct{})
	ready := make(chan struct{})
	go s.listen(lctx, ready)
	if err := s.ReloadConfig(ctx); err != nil {
		// A broken db_pre_config function must not keep the API down:
		// the configuration without the database's settings applies
		// until a reload succeeds.
		s.log.Error("in-database configuration not applied", "err", err)
		s.conf.Store(s.buildRunConfig(nil))
	}
	if err := s.Reload(ctx); err != nil {
		cancel()
		<-s.done
		return nil, err
	}
	s.exec = pgexec.New(cfg.Pool, pgexec.Options{SharedConns: max(cfg.SharedReadConns, 0), SharedDepth: cfg.SharedReadDepth})
	// Wait for LISTEN so a reload notified right after New is not missed;
	// without a listener the server still serves (and retries in the background).
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		s.log.Warn("schema reload listener not ready after 5s; continuing")
	case <-ctx.Done():
	}
	return s, nil
}

const roleSettingsSQL = `
select r.rolname::text, coalesce(array_agg(split_part(x, '=', 1)) filter (where x is not null), '{}'),
  coalesce(array_agg(substr(x, strpos(x, '=') + 1)) filter (where x is not null), '{}')
from pg_catalog.pg_auth_members m
join pg_catalog.pg_roles r on r.oid = m.roleid
join pg_catalog.pg_roles me on me.oid = m.member and me.rolname = current_user
left join pg_catalog.pg_db_role_setting s on s.setrole = r.oid
  and s.setdatabase in (0, (select oid from pg_catalog.pg_database where datname = current_database()))
left join lateral unnest(s.setconfig) as x on true
where x is null or split_part(x, '=', 1) in (select name from pg_catalog.pg_settings where context = 'user' and name <> 'search_path')
group by r.rolname`

// Reload re-reads the schema cache and swaps it in atomically; requests
// under way keep the snapshot they started with.
func (s *Server) Reload(ctx context.Context) error {
	s.reload.Lock()
	defer s.reload.Unlock()
	conn, err := s.cfg.Pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("load schema cache: %w", err)
	}
	defer conn.Release()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return fmt.Errorf("load schema cache: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	sc, err := loadSchema(ctx, tx, s.cfg.Schemas)
	if err != nil {
		return fmt.Errorf("load schema cache: %w", err)
	}
	snap := &snapshot{Schema: sc, roleSettings: map[string][2][]string{}, timezones: s.zones}
	rows, err := tx.Query(ctx, roleSettingsSQL)
	if err != nil {
		return fmt.Errorf("load role settings: %w", err)
	}
	for rows.Next() {
		var role string
		var ks, vs []string
		if err := rows.Scan(&role, &ks, &vs); err != nil {
			rows.Close()
			return fmt.Errorf("load role settings: %w", err)
		}
		snap.roleSettings[role] = [2][]string{ks, vs}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load role settings: %w", err)
	}
	s.cache.Store(snap)
	s.log.Debug("schema cache loaded", "tables", len(sc.Tables), "functions", len(sc.Functions))
	return nil
}

// listen follows NOTIFY pgrst on its own connection and reloads the
// schema cache on 'reload schema' (or an empty payload) and the
// in-database configuration on 'reload config', reconnecting with
// backoff; after a reconnect it reloads, since notifications may be lost.
func (s *Server) listen(ctx context.Context, ready chan struct{}) {
	defer close(s.done)
	var once sync.Once
	wait := backoff.New(100*time.Millisecond, 30*time.Second)
	first := true
	for ctx.Err() == nil {
		var cc *pgx.ConnConfig
		var err error
		if s.cfg.ListenConnString != "" {
			cc, err = pgx.ParseConfig(s.cfg.ListenConnString)
		} else {
			cc = s.cfg.Pool.Config().ConnConfig.Copy()
		}
		if err != nil {
			s.log.Error("schema reload listener: bad connection string", "err", err)
			return
		}
		conn, err := pgx.ConnectConfig(ctx, cc)
		if err == nil {
			_, err = conn.Exec(ctx, "listen pgrst")
		}
		if err != nil {
			if conn != nil {
				conn.Close(context.Background())
			}
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("schema reload listener: connect", "err", err, "retry_in", wait.Next())
			if !wait.Wait(ctx) {
				return
			}
			continue
		}
		wait.Reset()
		once.Do(func() { close(ready) })
		if !first {
			if err := s.ReloadConfig(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("in-database configuration reload after reconnect", "err", err)
			}
			if err := s.Reload(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("schema cache reload after reconnect", "err", err)
			}
		}
		first = false
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				conn.Close(context.Background())
				if ctx.Err() == nil {
					s.log.Warn("schema reload listener: connection lost", "err", err)
				}
				break
			}
			switch strings.TrimSpace(n.Payload) {
			case "", "reload schema":
				if err := s.Reload(ctx); err != nil && ctx.Err() == nil {
					s.log.Error("schema cache reload", "err", err)
				} else if err == nil {
					s.log.Info("schema cache reloaded")
				}
			case "reload config":
				if err := s.ReloadConfig(ctx); err != nil && ctx.Err() == nil {
					s.log.Error("in-database configuration reload", "err", err)
				} else if err == nil {
					s.log.Info("in-database configuration reloaded")
				}
			}
		}
	}
}

// Close stops the reload listener and gives the shared read connections
// back to the pool. The pool belongs to the caller.
func (s *Server) Close() error {
	s.exec.Close()
	if s.cancel != nil {
		s.cancel()
		<-s.done
		s.cancel = nil
	}
	return nil
}

// ServeHTTP serves paths relative to the REST root: "/{table}" and "/rpc/{fn}".
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := s.serve(w, r); err != nil {
		switch {
		case err.Status == 503 && postgres.Unavailable(err.Cause):
			s.unavailableLog.Warn(s.log, "database unavailable; answering 503", "method", r.Method, "path", r.URL.Path,
				"request_id", r.Header.Get("X-Request-Id"), "err", err.Cause)
		case err.Status >= 500 && err.Cause != nil:
			s.log.Error("rest request failed", "method", r.Method, "path", r.URL.Path, "code", err.Code,
				"request_id", r.Header.Get("X-Request-Id"), "err", err.Cause)
		}
		writeError(w, err)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) *apiError {
	snap := s.cache.Load()
	if snap == nil {
		e := newErr(503, codeNoSchemaCache, "Could not query the database for the schema cache. Retrying.")
		e.Header = http.Header{"Retry-After": {retryAfter}}
		return e
	}
	path := strings.TrimPrefix(r.URL.Path, "/")
	segs := strings.Split(path, "/")
	if len(segs) > 0 && segs[len(segs)-1] == "" && len(segs) > 1 {
		segs = segs[:len(segs)-1]
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete, http.MethodOptions:
	default:
		return newErr(405, codeMethod, "Unsupported HTTP method: "+r.Method)
	}
	if r.Method == http.MethodOptions {
		return s.options(w, r, snap, segs)
	}
	ar, aerr := s.authenticate(r, time.Now())
	if aerr != nil {
		return aerr
	}
	req, aerr := s.parseRequest(r, snap, segs)
	if aerr != nil {
		return aerr
	}
	rc := &reqCtx{s: s, w: w, req: req, snap: snap, auth: ar, conf: s.conf.Load()}
	switch {
	case req.target == targetRoot:
		return rc.root()
	case req.target == targetRoutine:
		return rc.call(r.Context())
	case req.readMethod():
		return rc.read(r.Context())
	}
	return rc.mutate(r.Context())
}

// profile picks the schema from Accept-Profile (reads) or Content-Profile
// (writes).
func (s *Server) profile(r *http.Request, read bool) (string, *apiError) {
	h := "Content-Profile"
	if read {
		h = "Accept-Profile"
	}
	v := strings.TrimSpace(r.Header.Get(h))
	if v == "" {
		return s.cfg.Schemas[0], nil
	}
	for _, sch := range s.cfg.Schemas {
		if sch == v {
			return v, nil
		}
	}
	return "", newErr(406, codeSchema, "Invalid schema: "+v).withHint("Only the following schemas are exposed: " + strings.Join(s.cfg.Schemas, ", "))
}

func (s *Server) options(w http.ResponseWriter, r *http.Request, snap *snapshot, segs []string) *apiError {
	schema, aerr := s.profile(r, true)
	if aerr != nil {
		return aerr
	}
	allow := "OPTIONS,GET,HEAD"
	switch {
	case len(segs) == 1 && segs[0] == "":
	case len(segs) == 1:
		t := snap.Table(schema, segs[0])
		if t == nil {
			return tableNotFound(snap.Schema, schema, segs[0])
		}
		if t.Insertable {
			allow += ",POST"
		}
		if t.Insertable && t.Updatable && len(t.PK) > 0 {
			allow += ",PUT"
		}
		if t.Updatable {
			allow += ",PATCH"
		}
		if t.Deletable {
			allow += ",DELETE"
		}
	case len(segs) == 2 && segs[0] == "rpc":
		fs := snap.Functions[[2]string{schema, segs[1]}]
		if len(fs) == 0 {
			return newErr(404, codeNoRPC, fmt.Sprintf("Could not find the function %s.%s without parameters in the schema cache", schema, segs[1]))
		}
		allow = "OPTIONS,GET,HEAD,POST"
		if fs[0].Volatility == 'v' {
			allow = "OPTIONS,POST"
		}
	default:
		return newErr(404, codeInvalidPath, "Invalid path specified in request URL")
	}
	w.Header().Set("Allow", allow)
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(200)
	return nil
}

func tableNotFound(sc *Schema, schema, name string) *apiError {
	e := newErr(404, codeTableNotFound, fmt.Sprintf("Could not find the table '%s.%s' in the schema cache", schema, name))
	var names []string
	for k := range sc.Tables {
		if k[0] == schema {
			names = append(names, k[1])
		}
	}
	if sug := suggest(name, names); sug != "" {
		e.withHint(fmt.Sprintf("Perhaps you meant the table '%s.%s'", schema, sug))
	}
	return e
}
