package rest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// zoneSet answers whether PostgreSQL knows a time zone name (Prefer:
// timezone=, which PostgREST honours only for a known zone).
type zoneSet interface{ has(name string) bool }

// zoneMap is a zoneSet known in advance (tests).
type zoneMap map[string]bool

func (m zoneMap) has(name string) bool { return m[name] }

// lazyZones reads the zone names from the database on the first request
// that asks for a time zone, once per server. pg_timezone_names opens every
// zone file of the installation: read with the schema cache it took longer
// than the rest of the cache together, at every start of a tenant, for a
// preference few requests send. The names belong to the installation, not
// the schema, so a schema reload does not read them again.
type lazyZones struct {
	pool  *pgxpool.Pool
	log   *slog.Logger
	mu    sync.Mutex // one load at a time
	names atomic.Pointer[map[string]bool]
}

func (z *lazyZones) has(name string) bool {
	if m := z.names.Load(); m != nil {
		return (*m)[name]
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if m := z.names.Load(); m != nil {
		return (*m)[name]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := z.load(ctx)
	if err != nil {
		// Not remembered: the next request asking for a zone tries again.
		z.log.Error("time zone names not loaded; the time zone preference is ignored", "err", err)
		return false
	}
	z.names.Store(&m)
	return m[name]
}

func (z *lazyZones) load(ctx context.Context) (map[string]bool, error) {
	rows, err := z.pool.Query(ctx, "select name from pg_catalog.pg_timezone_names")
	if err != nil {
		return nil, fmt.Errorf("load time zones: %w", err)
	}
	defer rows.Close()
	m := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("load time zones: %w", err)
		}
		m[n] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load time zones: %w", err)
	}
	return m, nil
}
