package realtimeserver

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
)

// changeKind is the kind of a row change.
type changeKind uint8

const (
	kindInsert changeKind = 1 << iota
	kindUpdate
	kindDelete
)

func (k changeKind) String() string {
	switch k {
	case kindInsert:
		return "INSERT"
	case kindUpdate:
		return "UPDATE"
	case kindDelete:
		return "DELETE"
	}
	return "ERROR"
}

// walRelation is a table as the replication stream describes it: its
// columns in tuple order. A new description replaces the old one for later
// changes; changes keep the one they were written with.
type walRelation struct {
	id      uint32
	schema  string
	name    string
	columns []walColumn
	byName  map[string]int
}

type walColumn struct {
	name    string
	typeOID uint32
	key     bool // part of the replica identity
}

// walValue is a column value in text form.
type walValue struct {
	text      string
	null      bool
	unchanged bool // an unchanged TOASTed value the stream does not repeat
}

// walChange is one row change of a committed transaction.
type walChange struct {
	rel      *walRelation
	kind     changeKind
	newRow   []walValue // INSERT, UPDATE
	oldRow   []walValue // UPDATE (when sent), DELETE
	oldIsKey bool       // oldRow carries the replica identity columns only
}

// walTxn is a committed transaction, or, with no changes, a marker that
// everything up to end has been read (from a keepalive).
type walTxn struct {
	changes    []walChange
	commitTime time.Time
	end        pglogrepl.LSN
	xid        uint32
}

// newView and oldView expose a change's rows to filters.
type rowOf struct {
	rel   *walRelation
	row   []walValue
	isKey bool
}

func (r rowOf) lookup(name string) (string, bool, bool) {
	i, ok := r.rel.byName[name]
	if !ok || i >= len(r.row) {
		return "", false, false
	}
	if r.isKey && !r.rel.columns[i].key {
		return "", false, false
	}
	v := r.row[i]
	if v.unchanged {
		return "", false, false
	}
	return v.text, v.null, true
}

// capture streams committed changes of the publication's tables from a
// durable logical replication slot (pgoutput) and hands them, in commit
// order, to the dispatcher. It confirms to the server only what the
// dispatcher has delivered, so a restart of either side resumes without
// losing changes, and it skips what it already handed over, so resuming
// does not duplicate them.
type capture struct {
	connString  string
	adminConn   string
	slot        string
	publication string
	log         *slog.Logger
	cat         *catalog
	out         chan<- *walTxn
	processed   *atomic.Uint64 // LSN the dispatcher has finished
	lastQueued  pglogrepl.LSN  // end of the last transaction handed over
	statusEvery time.Duration

	connected atomic.Bool
}

// replicationConfig parses the replication connection string and sets what
// the stream relies on: logical replication mode and the session settings
// that fix the text form of values (UTC, ISO dates).
func replicationConfig(connString string) (*pgconn.Config, error) {
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

func (c *capture) connect(ctx context.Context) (*pgconn.PgConn, error) {
	cfg, err := replicationConfig(c.connString)
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
func (c *capture) ensureSlot(ctx context.Context, conn *pgconn.PgConn) error {
	_, err := pglogrepl.CreateReplicationSlot(ctx, conn, c.slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "NOEXPORT_SNAPSHOT"})
	var pe *pgconn.PgError
	switch {
	case err == nil:
		c.log.Info("created replication slot", "slot", c.slot)
		return nil
	case errors.As(err, &pe) && pe.Code == "42710": // duplicate_object: it exists
		return nil
	case errors.As(err, &pe) && pe.Code == "42501" && c.adminConn != "":
		admin, aerr := pgx.Connect(ctx, c.adminConn)
		if aerr != nil {
			return fmt.Errorf("create replication slot %s: connect with AdminConnString: %w", c.slot, aerr)
		}
		defer admin.Close(context.WithoutCancel(ctx))
		_, aerr = admin.Exec(ctx, `select pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')
			where not exists (select 1 from pg_catalog.pg_replication_slots where slot_name = $1)`, c.slot)
		if aerr != nil {
			return fmt.Errorf("create replication slot %s: %w", c.slot, aerr)
		}
		return nil
	default:
		return fmt.Errorf("create replication slot %s: %w", c.slot, err)
	}
}

// prepare connects once and makes sure the slot exists, so that changes
// committed after New returns are captured.
func (c *capture) prepare(ctx context.Context) error {
	conn, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return c.ensureSlot(ctx, conn)
}

// run streams until ctx ends, reconnecting with backoff after failures
// (for instance a PostgreSQL restart).
func (c *capture) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := c.stream(ctx)
		c.connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > 30*time.Second {
			backoff = 100 * time.Millisecond
		}
		c.log.Warn("replication stream interrupted; reconnecting", "error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (c *capture) stream(ctx context.Context) error {
	conn, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := c.ensureSlot(ctx, conn); err != nil {
		return err
	}
	err = pglogrepl.StartReplication(ctx, conn, c.slot, 0, pglogrepl.StartReplicationOptions{
		Mode: pglogrepl.LogicalReplication,
		PluginArgs: []string{
			"proto_version '1'",
			"publication_names '" + strings.ReplaceAll(c.publication, "'", "''") + "'",
		},
	})
	if err != nil {
		return fmt.Errorf("start replication from slot %s: %w", c.slot, err)
	}
	c.connected.Store(true)
	c.log.Info("streaming changes", "slot", c.slot, "publication", c.publication)

	rels := map[uint32]*walRelation{}
	var cur *walTxn
	nextStatus := time.Now()
	for {
		if !time.Now().Before(nextStatus) {
			if err := c.sendStatus(ctx, conn); err != nil {
				return err
			}
			nextStatus = time.Now().Add(c.statusEvery)
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
				if cur == nil && ka.ServerWALEnd > c.lastQueued {
					// Everything up to here has been sent: once the
					// dispatcher is past what came before, the slot may
					// advance, even if no change concerned the publication.
					select {
					case c.out <- &walTxn{end: ka.ServerWALEnd}:
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
				if cur, err = c.handle(ctx, xld.WALData, rels, cur); err != nil {
					return err
				}
			}
		}
	}
}

func (c *capture) sendStatus(ctx context.Context, conn *pgconn.PgConn) error {
	lsn := pglogrepl.LSN(c.processed.Load())
	err := pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: lsn})
	if err != nil {
		return fmt.Errorf("send standby status: %w", err)
	}
	return nil
}

func (c *capture) handle(ctx context.Context, data []byte, rels map[uint32]*walRelation, cur *walTxn) (*walTxn, error) {
	msg, err := pglogrepl.Parse(data)
	if err != nil {
		return cur, fmt.Errorf("parse logical replication message: %w", err)
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		r := &walRelation{id: m.RelationID, schema: m.Namespace, name: m.RelationName, byName: map[string]int{}}
		for i, col := range m.Columns {
			r.columns = append(r.columns, walColumn{name: col.Name, typeOID: col.DataType, key: col.Flags&1 == 1})
			r.byName[col.Name] = i
		}
		rels[m.RelationID] = r
		c.cat.invalidate(m.RelationID)
	case *pglogrepl.BeginMessage:
		cur = &walTxn{commitTime: m.CommitTime, xid: m.Xid}
	case *pglogrepl.InsertMessage:
		if cur != nil && rels[m.RelationID] != nil {
			cur.changes = append(cur.changes, walChange{rel: rels[m.RelationID], kind: kindInsert, newRow: tupleValues(m.Tuple)})
		}
	case *pglogrepl.UpdateMessage:
		if cur != nil && rels[m.RelationID] != nil {
			ch := walChange{rel: rels[m.RelationID], kind: kindUpdate, newRow: tupleValues(m.NewTuple)}
			if m.OldTuple != nil {
				ch.oldRow, ch.oldIsKey = tupleValues(m.OldTuple), m.OldTupleType == pglogrepl.UpdateMessageTupleTypeKey
			}
			cur.changes = append(cur.changes, ch)
		}
	case *pglogrepl.DeleteMessage:
		if cur != nil && rels[m.RelationID] != nil {
			cur.changes = append(cur.changes, walChange{rel: rels[m.RelationID], kind: kindDelete,
				oldRow: tupleValues(m.OldTuple), oldIsKey: m.OldTupleType == pglogrepl.DeleteMessageTupleTypeKey})
		}
	case *pglogrepl.CommitMessage:
		if cur == nil {
			return nil, nil
		}
		cur.end = m.TransactionEndLSN
		cur.commitTime = m.CommitTime
		if cur.end <= c.lastQueued {
			c.log.Debug("skipping transaction already dispatched", "end", cur.end, "last", c.lastQueued)
			return nil, nil // delivered before the stream restarted
		}
		select {
		case c.out <- cur:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		c.log.Debug("captured transaction", "changes", len(cur.changes), "end", cur.end)
		c.lastQueued = cur.end
		return nil, nil
	}
	return cur, nil
}

// tupleValues copies a tuple out of the stream's reused buffer.
func tupleValues(t *pglogrepl.TupleData) []walValue {
	if t == nil {
		return nil
	}
	out := make([]walValue, len(t.Columns))
	for i, col := range t.Columns {
		switch col.DataType {
		case 'n':
			out[i].null = true
		case 'u':
			out[i].unchanged = true
		default:
			out[i].text = string(col.Data)
		}
	}
	return out
}
