package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sfp-dev/sfp/pkg/client/realtime"
)

func init() { newRealtimeSource = openRealtimeSource }

// resyncEvery re-reads a watched row even without a notification, a safety
// net for changes lost while the WebSocket was down.
const resyncEvery = 30 * time.Second

// realtimeSource delivers a row's changes from a postgres_changes
// subscription (pkg/client/realtime) through the gateway. The subscription joins
// with the client's access token, so Realtime applies the caller's
// row-level security, and the token is refreshed with the session.
type realtimeSource struct {
	rc     *realtime.Client
	events <-chan realtime.Event
	rt     ResourceType
	primed bool
}

func openRealtimeSource(ctx context.Context, c *Client, rt ResourceType, table, filter string) (watchSource, error) {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	rc, err := dialRealtime(cctx, c)
	if err != nil {
		return nil, err
	}
	ch := rc.Channel("sfp-watch:"+table+":"+filter).OnPostgresChanges(realtime.PostgresChangesFilter{
		Event: realtime.AllChanges, Schema: "public", Table: table, Filter: filter,
	}, nil)
	events := ch.Events(64)
	if err := ch.Subscribe(cctx); err != nil {
		rc.Close()
		return nil, fmt.Errorf("subscribe to %s changes: %w", table, err)
	}
	return &realtimeSource{rc: rc, events: events, rt: rt}, nil
}

// dialRealtime connects a Realtime client through the gateway with the
// client's access token (refreshed with the session).
func dialRealtime(ctx context.Context, c *Client) (*realtime.Client, error) {
	opts := []realtime.Option{
		realtime.WithAccessToken(func(ctx context.Context) (string, error) {
			tok, _, _, err := c.sess.token(ctx)
			return tok, err
		}),
		realtime.WithHTTPClient(c.http),
		realtime.WithLogger(c.opts.logger),
	}
	rc, err := realtime.New(c.baseURL, c.apiKey, opts...)
	if err != nil {
		return nil, err
	}
	if err := rc.Connect(ctx); err != nil {
		rc.Close()
		return nil, fmt.Errorf("connect to realtime: %w", err)
	}
	return rc, nil
}

func (s *realtimeSource) next(ctx context.Context) (*Update, error) {
	if !s.primed {
		// The snapshot was read before the subscription was up: read again
		// once, so a change in between is not missed.
		s.primed = true
		return nil, nil
	}
	t := time.NewTimer(resyncEvery)
	defer t.Stop()
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return nil, errors.New("the realtime channel closed")
			}
			switch e := ev.(type) {
			case *realtime.PostgresChangeEvent:
				if e.Type == realtime.Delete || len(e.Record) == 0 {
					return nil, nil // re-read: gone means deleted
				}
				u, err := decodeUpdate(s.rt, e.Record)
				if err != nil {
					return nil, err
				}
				u.Event, u.Time = string(e.Type), e.CommitTimestamp
				return u, nil
			case *realtime.StatusEvent:
				if e.Status == realtime.StatusSubscribed {
					return nil, nil // rejoined after a reconnect: catch up
				}
			}
		case <-t.C:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *realtimeSource) close() { s.rc.Close() }
