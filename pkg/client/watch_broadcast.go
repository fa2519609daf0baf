package client

import (
	"context"
	"encoding/json"

	"github.com/sfp-dev/sfp/pkg/client/realtime"
)

func init() { newBroadcastSource = openBroadcastSource }

// openBroadcastSource delivers a task's or deployment's changes from its
// private Realtime topic (task:<id>, deployment:<id>), on which the tenant
// schema's triggers broadcast the row with realtime.broadcast_changes
// whenever its status, progress or message changes. The server checks the
// caller's membership once, at join; a server or schema without the topic
// refuses the join, and Watch falls back to postgres_changes.
func openBroadcastSource(ctx context.Context, c *Client, rt ResourceType, topic string) (watchSource, error) {
	return openChannelSource(ctx, c, rt, func(rc *realtime.Client) *realtime.Channel {
		return rc.Channel(topic, realtime.Private())
	}, "join private topic "+topic, broadcastChange)
}

// changeBroadcast is the payload realtime.broadcast_changes sends.
type changeBroadcast struct {
	Operation string          `json:"operation"`
	Record    json.RawMessage `json:"record"`
}

// broadcastChange turns a broadcast_changes message into an Update.
func broadcastChange(rt ResourceType, ev realtime.Event) (u *Update, isChange bool, err error) {
	e, ok := ev.(*realtime.BroadcastEvent)
	if !ok {
		return nil, false, nil
	}
	var p changeBroadcast
	if json.Unmarshal(e.Payload, &p) != nil || p.Operation == "DELETE" || len(p.Record) == 0 || string(p.Record) == "null" {
		return nil, true, nil // re-read: gone means deleted
	}
	if u, err = decodeUpdate(rt, p.Record); err != nil {
		return nil, true, err
	}
	u.Event, u.Time = p.Operation, u.updatedAt
	return u, true, nil
}
