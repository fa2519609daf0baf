package realtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Event is what a channel delivers: *PostgresChangeEvent, *BroadcastEvent,
// *SystemEvent, *PresenceEvent or *StatusEvent.
type Event interface{ isEvent() }

// ChangeType is the kind of a database change.
type ChangeType string

// Change types, as the server names them.
const (
	Insert ChangeType = "INSERT"
	Update ChangeType = "UPDATE"
	Delete ChangeType = "DELETE"
	// AllChanges in a filter selects every type.
	AllChanges ChangeType = "*"
)

// Column is a column of a changed table, as the server lists it.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"` // PostgreSQL type name: int8, text, uuid, _text…
}

// PostgresChangeEvent is a committed change of a row.
type PostgresChangeEvent struct {
	Schema          string
	Table           string
	Type            ChangeType
	CommitTimestamp time.Time
	Columns         []Column
	// Record is the new row (INSERT, UPDATE), as a JSON object of the
	// columns the subscriber may select; nil for DELETE.
	Record json.RawMessage
	// OldRecord is the old row (UPDATE, DELETE): the primary key, or every
	// column with REPLICA IDENTITY FULL; only the primary key for a DELETE
	// on a table with row-level security.
	OldRecord json.RawMessage
	// Errors are the server's errors for this change ("Error 401:
	// Unauthorized" when the role may not select the primary key, …).
	Errors []string
	// BindingIDs are the server's ids of the bindings the change matched.
	BindingIDs []int64
}

// DecodeRecord unmarshals Record into v.
func (e *PostgresChangeEvent) DecodeRecord(v any) error {
	if len(e.Record) == 0 {
		return fmt.Errorf("realtime: %s change has no record", e.Type)
	}
	return json.Unmarshal(e.Record, v)
}

// DecodeOldRecord unmarshals OldRecord into v.
func (e *PostgresChangeEvent) DecodeOldRecord(v any) error {
	if len(e.OldRecord) == 0 {
		return fmt.Errorf("realtime: %s change has no old record", e.Type)
	}
	return json.Unmarshal(e.OldRecord, v)
}

// BroadcastEvent is a message another client (or the broadcast API) sent
// on the channel's topic.
type BroadcastEvent struct {
	Event string
	// Payload is the JSON payload; nil when the sender sent bytes.
	Payload json.RawMessage
	// Binary is the payload of a binary broadcast.
	Binary []byte
	// Meta is the sender's metadata, when any.
	Meta json.RawMessage
}

// SystemEvent is a message from the server about the channel, such as
// {extension: "postgres_changes", status: "ok", message: "Subscribed to
// PostgreSQL"} or a token that expired.
type SystemEvent struct {
	Extension string `json:"extension"`
	Status    string `json:"status"`
	Message   string `json:"message"`
	Channel   string `json:"channel"`
}

// PresenceEvent is a presence_state (Kind "state": Joins holds the whole
// state) or presence_diff (Kind "diff") message. Maps go from presence key
// to the metadata each member tracks.
type PresenceEvent struct {
	Kind   string
	Joins  map[string][]json.RawMessage
	Leaves map[string][]json.RawMessage
}

// ChannelStatus is the state a channel reports in StatusEvents.
type ChannelStatus string

// Channel statuses, named as realtime-js names them.
const (
	StatusSubscribed   ChannelStatus = "SUBSCRIBED"
	StatusChannelError ChannelStatus = "CHANNEL_ERROR"
	StatusClosed       ChannelStatus = "CLOSED"
)

// StatusEvent reports a change of a channel's state: subscribed (again,
// after a reconnect), in error (Err says why; it is rejoined when it can be)
// or closed.
type StatusEvent struct {
	Status ChannelStatus
	Err    error
}

func (*PostgresChangeEvent) isEvent() {}
func (*BroadcastEvent) isEvent()      {}
func (*SystemEvent) isEvent()         {}
func (*PresenceEvent) isEvent()       {}
func (*StatusEvent) isEvent()         {}

// wireChange is the data of a postgres_changes push.
type wireChange struct {
	Schema          string          `json:"schema"`
	Table           string          `json:"table"`
	Type            changeType      `json:"type"`
	CommitTimestamp string          `json:"commit_timestamp"`
	Columns         rawColumns      `json:"columns"`
	Record          json.RawMessage `json:"record"`
	OldRecord       json.RawMessage `json:"old_record"`
	Errors          []string        `json:"errors"`
}

// changeType decodes the change type without allocating for the three
// the server sends.
type changeType ChangeType

func (t *changeType) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"INSERT"`:
		*t = changeType(Insert)
	case `"UPDATE"`:
		*t = changeType(Update)
	case `"DELETE"`:
		*t = changeType(Delete)
	default:
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = changeType(s)
	}
	return nil
}

// rawColumns is the JSON of a change's columns. It aliases the payload
// being decoded (encoding/json hands UnmarshalJSON a slice of its input),
// so it is only read before decodeChange returns.
type rawColumns []byte

func (r *rawColumns) UnmarshalJSON(b []byte) error {
	*r = b
	return nil
}

// columnsCache remembers the last columns a connection decoded: a
// subscription's changes repeat their table's columns, which are then
// copied instead of decoded again. Only the reader goroutine uses it.
type columnsCache struct {
	raw  []byte
	cols []Column
}

// columns decodes raw, or copies the cached columns when raw is the same
// JSON. Each event gets its own slice, so a handler changing it changes
// no other event.
func (c *columnsCache) columns(raw []byte) ([]Column, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if c.cols != nil && bytes.Equal(raw, c.raw) {
		return slices.Clone(c.cols), nil
	}
	var cols []Column
	if err := json.Unmarshal(raw, &cols); err != nil {
		return nil, err
	}
	if cols != nil {
		c.raw, c.cols = append(c.raw[:0], raw...), cols
		return slices.Clone(cols), nil
	}
	return cols, nil
}

// decodeChange decodes a postgres_changes payload in one pass of
// encoding/json (the columns aside, usually copied from cache).
func decodeChange(payload json.RawMessage, cache *columnsCache) (*PostgresChangeEvent, error) {
	var p struct {
		IDs  []int64    `json:"ids"`
		Data wireChange `json:"data"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, fmt.Errorf("decode postgres_changes payload: %w", err)
	}
	cols, err := cache.columns(p.Data.Columns)
	if err != nil {
		return nil, fmt.Errorf("decode postgres_changes columns: %w", err)
	}
	e := &PostgresChangeEvent{
		Schema: p.Data.Schema, Table: p.Data.Table, Type: ChangeType(p.Data.Type),
		Columns: cols, Record: nullToNil(p.Data.Record), OldRecord: nullToNil(p.Data.OldRecord),
		Errors: p.Data.Errors, BindingIDs: p.IDs,
	}
	if p.Data.CommitTimestamp != "" {
		if t, err := time.Parse(time.RFC3339Nano, p.Data.CommitTimestamp); err == nil {
			e.CommitTimestamp = t
		}
	}
	return e, nil
}

func nullToNil(r json.RawMessage) json.RawMessage {
	if len(r) == 0 || string(r) == "null" {
		return nil
	}
	return r
}
