package embedded

import (
	"context"
	"fmt"
	"time"

	"github.com/sfp-dev/sfp/pkg/server/realtimeserver"
)

// SlotName is the tenant's durable logical replication slot: the change
// stream resumes from it after a restart, so no committed change is lost.
const SlotName = "sfp_realtime"

// startRealtime starts the realtime server: visibility checks as
// authenticator (switching to each subscriber's role), the change stream as
// supabase_replication_admin. It returns the server's closer.
func (s *services) startRealtime(ctx context.Context) (func(context.Context) error, error) {
	t, c := s.inst.T, s.inst.Cluster
	pool, err := s.pool(ctx, "realtime", c.ConnString("authenticator", t.Secrets.AuthenticatorPassword, "postgres"), 10)
	if err != nil {
		return nil, fmt.Errorf("realtime: %w", err)
	}
	srv, err := realtimeserver.New(ctx, realtimeserver.Config{
		Pool:                  pool,
		ReplicationConnString: c.ConnString("supabase_replication_admin", t.Secrets.ReplicationPassword, "postgres"),
		AdminConnString:       c.ConnString("supabase_admin", t.Secrets.PostgresPassword, "postgres"),
		SlotName:              SlotName,
		Keys:                  s.ring,
		Logger:                s.inst.log.With("component", "realtime"),
		Limits:                realtimeLimits(t.Config.Realtime),
		MaxDispatchLag:        time.Duration(t.Config.Realtime.MaxDispatchLag),
		MessageRetention:      time.Duration(t.Config.Realtime.MessageRetention),
		ObserveLag:            s.inst.obs.metrics.ObserveReplicationLag,
	})
	if err != nil {
		return nil, fmt.Errorf("start realtime: %w", err)
	}
	s.realtime = srv
	return srv.Close, nil
}
