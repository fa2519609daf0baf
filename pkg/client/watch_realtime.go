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

// openRealtimeSource delivers a row's changes from a postgres_changes
// subscription (pkg/client/realtime) through the gateway. The subscription joins
// with the client's access token, so Realtime applies the caller's
// row-level security, and the token is refreshed with the session.
func openRealtimeSource(ctx context.Context, c *Client, rt ResourceType, table, filter string) (watchSource, error) {
	return openChannelSource(ctx, c, rt, func(rc *realtime.Client) *realtime.Channel {
		return rc.Channel("sfp-watch:"+table+":"+filter).OnPostgresChanges(realtime.PostgresChangesFilter{
			Event: realtime.AllChanges, Schema: "public", Table: table, Filter: filter,
		}, nil)
	}, "subscribe to "+table+" changes", postgresChange)
}

// postgresChange turns a postgres_changes event into an Update.
func postgresChange(rt ResourceType, ev realtime.Event) (u *Update, isChange bool, err error) {
	e, ok := ev.(*realtime.PostgresChangeEvent)
	if !ok {
		return nil, false, nil
	}
	if e.Type == realtime.Delete || len(e.Record) == 0 {
		return nil, true, nil // re-read: gone means deleted
	}
	if u, err = decodeUpdate(rt, e.Record); err != nil {
		return nil, true, err
	}
	u.Event, u.Time = string(e.Type), e.CommitTimestamp
	return u, true, nil
}

// channelSource delivers a watched row's changes from a Realtime channel.
// The private-topic and postgres_changes sources differ only in the
// channel they join and in the event that carries the row (change); the
// catching up — once after the join, after every rejoin, every
// resyncEvery — is the same.
type channelSource struct {
	rc     *realtime.Client
	events <-chan realtime.Event
	rt     ResourceType
	// change turns one of the channel's events into an Update: isChange
	// false for an event that is not a change of the row, a nil Update to
	// read the row again.
	change func(rt ResourceType, ev realtime.Event) (u *Update, isChange bool, err error)
	primed bool
}

// openChannelSource connects to Realtime and joins the channel channel
// makes; what names the join in its error.
func openChannelSource(ctx context.Context, c *Client, rt ResourceType, channel func(*realtime.Client) *realtime.Channel, what string,
	change func(ResourceType, realtime.Event) (*Update, bool, error)) (watchSource, error) {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	rc, err := dialRealtime(cctx, c)
	if err != nil {
		return nil, err
	}
	ch := channel(rc)
	events := ch.Events(64)
	if err := ch.Subscribe(cctx); err != nil {
		rc.Close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return &channelSource{rc: rc, events: events, rt: rt, change: change}, nil
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

func (s *channelSource) next(ctx context.Context) (*Update, error) {
	if !s.primed {
		// The snapshot was read before the channel was joined: read again
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
			if e, isStatus := ev.(*realtime.StatusEvent); isStatus {
				if e.Status == realtime.StatusSubscribed {
					return nil, nil // rejoined after a reconnect: catch up
				}
			} else if u, isChange, err := s.change(s.rt, ev); isChange {
				return u, err
			}
		case <-t.C:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *channelSource) close() { s.rc.Close() }
