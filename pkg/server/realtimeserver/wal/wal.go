// Package wal streams the committed changes of a publication's tables
// from a durable logical replication slot (pgoutput, protocol 1): whole
// transactions in commit order, with each row's values in PostgreSQL's text
// form (the stream runs with UTC and ISO dates, so values have one text
// form). The realtime server turns them into postgres_changes messages.
package wal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sfp-dev/sfp/pkg/server/backoff"
)

// Kind is the kind of a row change.
type Kind uint8

const (
	Insert Kind = 1 << iota
	Update
	Delete
)

func (k Kind) String() string {
	switch k {
	case Insert:
		return "INSERT"
	case Update:
		return "UPDATE"
	case Delete:
		return "DELETE"
	}
	return "ERROR"
}

// Relation is a table as the replication stream describes it: its
// columns in tuple order. A new description replaces the old one for later
// changes; changes keep the one they were written with.
type Relation struct {
	ID      uint32
	Schema  string
	Name    string
	Columns []Column
	ByName  map[string]int // column index by name
}

type Column struct {
	Name    string
	TypeOID uint32
	Key     bool // part of the replica identity
}

// Value is a column value in text form.
type Value struct {
	Text      string
	Null      bool
	Unchanged bool // an unchanged TOASTed value the stream does not repeat
}

// Change is one row change of a committed transaction.
type Change struct {
	Rel      *Relation
	Kind     Kind
	NewRow   []Value // INSERT, UPDATE
	OldRow   []Value // UPDATE (when sent), DELETE
	OldIsKey bool    // OldRow carries the replica identity columns only
}

// Txn is a committed transaction, or, with no changes, a marker that
// everything up to end has been read (from a keepalive).
type Txn struct {
	Changes    []Change
	CommitTime time.Time
	End        pglogrepl.LSN
	XID        uint32
}

// Config configures a Capture.
type Config struct {
	// ConnString is a replication connection (a role with REPLICATION).
	ConnString string
	// AdminConn creates the slot when the replication role may not.
	AdminConn   string
	Slot        string
	Publication string
	Log         *slog.Logger
	// Out receives committed transactions in commit order, and markers
	// (a Txn without changes) when the stream moved past WAL that
	// concerned no published table.
	Out chan<- *Txn
	// Processed is the LSN the consumer has finished with: what is
	// confirmed to the server, so the slot keeps everything after it.
	Processed *atomic.Uint64
	// StatusEvery is how often the position is confirmed.
	StatusEvery time.Duration
	// OnRelation is told when the stream describes a table anew (its
	// shape may have changed).
	OnRelation func(rel uint32)
}

// Capture streams committed changes of the publication's tables from a
// durable logical replication slot (pgoutput) and hands them, in commit
// order, to its consumer. It confirms to the server only what the consumer
// has finished, so a restart of either side resumes without losing
// changes, and it skips what it already handed over, so resuming does not
// duplicate them.
type Capture struct {
	cfg        Config
	lastQueued pglogrepl.LSN // end of the last transaction handed over

	connected atomic.Bool
	walEnd    atomic.Uint64 // the server's WAL end as the stream last said
}

// New returns a Capture; Prepare then Run start it.
func New(cfg Config) *Capture {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Capture{cfg: cfg}
}

// ServerWALEnd is the end of the server's WAL as the stream last reported
// it (keepalives and data messages); 0 before the first message.
func (c *Capture) ServerWALEnd() uint64 { return c.walEnd.Load() }

// Connected reports whether the stream is up.
func (c *Capture) Connected() bool { return c.connected.Load() }

// ReplicationConfig parses the replication connection string and sets what
// the stream relies on: logical replication mode and the session settings
// that fix the text form of values (UTC, ISO dates).
func ReplicationConfig(connString string) (*pgconn.Config, error) {
	cfg, err := pgconn.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("parse ReplicationConnString: %w", err)
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["replication"] = "database"
	cfg.RuntimeParams["application_name"] = "sfp_realtime"
	cfg.RuntimeParams["TimeZone"] = "UTC"
	cfg.RuntimeParams["DateStyle"] = "ISO, MDY"
	cfg.RuntimeParams["IntervalStyle"] = "postgres"
	cfg.RuntimeParams["extra_float_digits"] = "1"
	cfg.RuntimeParams["bytea_output"] = "hex"
	return cfg, nil
}

func (c *Capture) connect(ctx context.Context) (*pgconn.PgConn, error) {
	cfg, err := ReplicationConfig(c.cfg.ConnString)
	if err != nil {
		return nil, err
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect for logical replication: %w", err)
	}
	return conn, nil
}

// ensureSlot creates the durable slot unless it exists. A replication role
// that may not create slots falls back to the admin connection.
func (c *Capture) ensureSlot(ctx context.Context, conn *pgconn.PgConn) error {
	_, err := pglogrepl.CreateReplicationSlot(ctx, conn, c.cfg.Slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "NOEXPORT_SNAPSHOT"})
	var pe *pgconn.PgError
	switch {
	case err == nil:
		c.cfg.Log.Info("created replication slot", "slot", c.cfg.Slot)
		return nil
	case errors.As(err, &pe) && pe.Code == "42710": // duplicate_object: it exists
		return nil
	case errors.As(err, &pe) && pe.Code == "42501" && c.cfg.AdminConn != "":
		admin, aerr := pgx.Connect(ctx, c.cfg.AdminConn)
		if aerr != nil {
			return fmt.Errorf("create replication slot %s: connect with AdminConnString: %w", c.cfg.Slot, aerr)
		}
		defer admin.Close(context.WithoutCancel(ctx))
		_, aerr = admin.Exec(ctx, `select pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')
			where not exists (select 1 from pg_catalog.pg_replication_slots where slot_name = $1)`, c.cfg.Slot)
		if aerr != nil {
			return fmt.Errorf("create replication slot %s: %w", c.cfg.Slot, aerr)
		}
		return nil
	default:
		return fmt.Errorf("create replication slot %s: %w", c.cfg.Slot, err)
	}
}

// Prepare connects once and makes sure the slot exists, so that changes
// committed after it returns are captured.
func (c *Capture) Prepare(ctx context.Context) error {
	conn, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return c.ensureSlot(ctx, conn)
}

// Run streams until ctx ends, reconnecting with backoff after failures
// (for instance a PostgreSQL restart).
func (c *Capture) Run(ctx context.Context) {
	wait := backoff.New(100*time.Millisecond, 5*time.Second)
	for ctx.Err() == nil {
		start := time.Now()
		err := c.stream(ctx)
		c.connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > 30*time.Second {
			wait.Reset()
		}
		c.cfg.Log.Warn("replication stream interrupted; reconnecting", "error", err, "retry_in", wait.Next())
		if !wait.Wait(ctx) {
			return
		}
	}
}

func (c *Capture) stream(ctx context.Context) error {
	conn, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := c.ensureSlot(ctx, conn); err != nil {
		return err
	}
	err = pglogrepl.StartReplication(ctx, conn, c.cfg.Slot, 0, pglogrepl.StartReplicationOptions{
		Mode: pglogrepl.LogicalReplication,
		PluginArgs: []string{
			"proto_version '1'",
			"publication_names '" + strings.ReplaceAll(c.cfg.Publication, "'", "''") + "'",
		},
	})
	if err != nil {
		return fmt.Errorf("start replication from slot %s: %w", c.cfg.Slot, err)
	}
	c.connected.Store(true)
	c.cfg.Log.Info("streaming changes", "slot", c.cfg.Slot, "publication", c.cfg.Publication)

	rels := map[uint32]*Relation{}
	var cur *Txn
	nextStatus := time.Now()
	for {
		if !time.Now().Before(nextStatus) {
			if err := c.sendStatus(ctx, conn); err != nil {
				return err
			}
			nextStatus = time.Now().Add(c.cfg.StatusEvery)
		}
		rctx, cancel := context.WithDeadline(ctx, nextStatus)
		raw, err := conn.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if pgconn.Timeout(err) && ctx.Err() == nil {
				continue
			}
			return fmt.Errorf("receive from replication stream: %w", err)
		}
		switch msg := raw.(type) {
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("replication stream: %w", pgconn.ErrorResponseToPgError(msg))
		case *pgproto3.CopyData:
			if len(msg.Data) == 0 {
				continue
			}
			switch msg.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("parse keepalive: %w", err)
				}
				c.walEnd.Store(uint64(ka.ServerWALEnd))
				if cur == nil && ka.ServerWALEnd > c.lastQueued {
					// Everything up to here has been sent: once the
					// dispatcher is past what came before, the slot may
					// advance, even if no change concerned the publication.
					select {
					case c.cfg.Out <- &Txn{End: ka.ServerWALEnd}:
						c.lastQueued = ka.ServerWALEnd
					default:
					}
				}
				if ka.ReplyRequested {
					nextStatus = time.Now()
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("parse WAL data: %w", err)
				}
				c.walEnd.Store(uint64(max(xld.ServerWALEnd, xld.WALStart)))
				if cur, err = c.handle(ctx, xld.WALData, rels, cur); err != nil {
					return err
				}
			}
		}
	}
}

func (c *Capture) sendStatus(ctx context.Context, conn *pgconn.PgConn) error {
	lsn := pglogrepl.LSN(c.cfg.Processed.Load())
	err := pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: lsn})
	if err != nil {
		return fmt.Errorf("send standby status: %w", err)
	}
	return nil
}

func (c *Capture) handle(ctx context.Context, data []byte, rels map[uint32]*Relation, cur *Txn) (*Txn, error) {
	msg, err := pglogrepl.Parse(data)
	if err != nil {
		return cur, fmt.Errorf("parse logical replication message: %w", err)
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		r := &Relation{ID: m.RelationID, Schema: m.Namespace, Name: m.RelationName, ByName: map[string]int{}}
		for i, col := range m.Columns {
			r.Columns = append(r.Columns, Column{Name: col.Name, TypeOID: col.DataType, Key: col.Flags&1 == 1})
			r.ByName[col.Name] = i
		}
		rels[m.RelationID] = r
		if c.cfg.OnRelation != nil {
			c.cfg.OnRelation(m.RelationID)
		}
	case *pglogrepl.BeginMessage:
		cur = &Txn{CommitTime: m.CommitTime, XID: m.Xid}
	case *pglogrepl.InsertMessage:
		if cur != nil && rels[m.RelationID] != nil {
			cur.Changes = append(cur.Changes, Change{Rel: rels[m.RelationID], Kind: Insert, NewRow: tupleValues(m.Tuple)})
		}
	case *pglogrepl.UpdateMessage:
		if cur != nil && rels[m.RelationID] != nil {
			ch := Change{Rel: rels[m.RelationID], Kind: Update, NewRow: tupleValues(m.NewTuple)}
			if m.OldTuple != nil {
				ch.OldRow, ch.OldIsKey = tupleValues(m.OldTuple), m.OldTupleType == pglogrepl.UpdateMessageTupleTypeKey
			}
			cur.Changes = append(cur.Changes, ch)
		}
	case *pglogrepl.DeleteMessage:
		if cur != nil && rels[m.RelationID] != nil {
			cur.Changes = append(cur.Changes, Change{Rel: rels[m.RelationID], Kind: Delete,
				OldRow: tupleValues(m.OldTuple), OldIsKey: m.OldTupleType == pglogrepl.DeleteMessageTupleTypeKey})
		}
	case *pglogrepl.CommitMessage:
		if cur == nil {
			return nil, nil
		}
		cur.End = m.TransactionEndLSN
		cur.CommitTime = m.CommitTime
		if cur.End <= c.lastQueued {
			c.cfg.Log.Debug("skipping transaction already dispatched", "end", cur.End, "last", c.lastQueued)
			return nil, nil // delivered before the stream restarted
		}
		select {
		case c.cfg.Out <- cur:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		c.cfg.Log.Debug("captured transaction", "changes", len(cur.Changes), "end", cur.End)
		c.lastQueued = cur.End
		return nil, nil
	}
	return cur, nil
}

// tupleValues copies a tuple out of the stream's reused buffer.
func tupleValues(t *pglogrepl.TupleData) []Value {
	if t == nil {
		return nil
	}
	out := make([]Value, len(t.Columns))
	for i, col := range t.Columns {
		switch col.DataType {
		case 'n':
			out[i].Null = true
		case 'u':
			out[i].Unchanged = true
		default:
			out[i].Text = string(col.Data)
		}
	}
	return out
}
