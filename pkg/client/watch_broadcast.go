package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sfp-dev/sfp/pkg/client/realtime"
)

func init() { newBroadcastSource = openBroadcastSource }

// broadcastSource delivers a task's or deployment's changes from its
// private Realtime topic (task:<id>, deployment:<id>), on which the tenant
// schema's triggers broadcast the row with realtime.broadcast_changes
// whenever its status, progress or message changes. The server checks the
// caller's membership once, at join; a server or schema without the topic
// refuses the join, and Watch falls back to postgres_changes.
type broadcastSource struct {
	rc     *realtime.Client
	events <-chan realtime.Event
	rt     ResourceType
	primed bool
}

func openBroadcastSource(ctx context.Context, c *Client, rt ResourceType, topic string) (watchSource, error) {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	rc, err := dialRealtime(cctx, c)
	if err != nil {
		return nil, err
	}
	ch := rc.Channel(topic, realtime.Private())
	events := ch.Events(64)
	if err := ch.Subscribe(cctx); err != nil {
		rc.Close()
		return nil, fmt.Errorf("join private topic %s: %w", topic, err)
	}
	return &broadcastSource{rc: rc, events: events, rt: rt}, nil
}

// changeBroadcast is the payload realtime.broadcast_changes sends.
type changeBroadcast struct {
	Operation string          `json:"operation"`
	Record    json.RawMessage `json:"record"`
}

func (s *broadcastSource) next(ctx context.Context) (*Update, error) {
	if !s.primed {
		// The snapshot was read before the join: read again once, so a
		// change in between is not missed.
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
			case *realtime.BroadcastEvent:
				var p changeBroadcast
				if json.Unmarshal(e.Payload, &p) != nil || p.Operation == "DELETE" || len(p.Record) == 0 || string(p.Record) == "null" {
					return nil, nil // re-read: gone means deleted
				}
				u, err := decodeUpdate(s.rt, p.Record)
				if err != nil {
					return nil, err
				}
				u.Event, u.Time = p.Operation, u.updatedAt
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

func (s *broadcastSource) close() { s.rc.Close() }
