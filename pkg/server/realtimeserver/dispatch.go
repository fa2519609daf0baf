package realtimeserver

import (
	"context"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sfp-dev/sfp/pkg/server/backoff"
	"github.com/sfp-dev/sfp/pkg/server/realtimeserver/wal"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
)

// maxRecordBytes is the size above which the official server drops values
// longer than 64 bytes from a change and reports "Error 413".
const maxRecordBytes = 1024 * 1024

// dispatcher turns committed transactions into postgres_changes messages:
// it matches subscriptions (event, filters), checks row visibility for the
// subscribers of tables with row-level security in one database round trip
// per batch, and queues one message per channel, in commit order.
type dispatcher struct {
	in        <-chan *wal.Txn
	pool      *pgxpool.Pool
	cat       *catalog
	hub       *hub
	log       *slog.Logger
	maxBatch  int
	parallel  int // connections visibility checks may use at once
	processed *atomic.Uint64
	stats     dispatchStats
	nextAt    time.Time    // when the next batch may start (pacing)
	noLoop    atomic.Bool  // loop functions cannot be created: a statement per group
	noDedup   atomic.Bool  // benchmarks' baseline: every version judged on its own
	over      overload     // overload.go
	behindAt  atomic.Int64 // commit time (ns) of the oldest transaction in dispatch; 0 when idle
	lag       func(commit time.Time)
}

// maxPause bounds the pause between batches that pacing imposes.
const maxPause = 100 * time.Millisecond

// dispatchStats are counters for tests and benchmarks.
type dispatchStats struct {
	batches    atomic.Int64
	changes    atomic.Int64
	checks     atomic.Int64 // visibility statements run
	delivered  atomic.Int64 // messages queued to clients
	broadcasts atomic.Int64 // realtime.messages broadcasts queued to clients
	// dropped counts changes not delivered because their transaction
	// was committed more than MaxDispatchLag before its batch started.
	dropped    atomic.Int64
	lagNotices atomic.Int64 // system messages telling channels so
}

func (d *dispatcher) run(ctx context.Context) {
	for {
		var batch []*wal.Txn
		select {
		case t := <-d.in:
			batch = append(batch, t)
		case <-ctx.Done():
			return
		}
		// Pace visibility checks: after a check that took the database
		// time t, wait t/2 before the next batch, collecting changes
		// meanwhile. The database then spends at most two thirds of its
		// time on Realtime's checks, and busy periods get larger batches,
		// whose checks cost about the same as small ones.
		if wait := time.Until(d.nextAt); wait > 0 {
			timer := time.NewTimer(min(wait, maxPause))
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				return
			}
		}
		idx := d.hub.subs.Load()
		n, msgs := len(batch[0].Changes), fanout(batch[0], idx)
	fill:
		for n < d.maxBatch && msgs < maxBatchMessages {
			select {
			case t := <-d.in:
				batch = append(batch, t)
				n += len(t.Changes)
				msgs += fanout(t, idx)
			default:
				break fill
			}
		}
		// Broadcast from Database needs no check: it goes out at once,
		// whatever the visibility checks below cost (broadcast_db.go),
		// and is not shed when the checks fall behind.
		d.deliverMessages(batch)
		now := time.Now()
		d.behindAt.Store(oldestCommit(batch))
		kept := d.shed(batch, now)
		d.tell(now, len(kept) == len(batch))
		wait := backoff.New(50*time.Millisecond, 2*time.Second)
		for len(kept) > 0 {
			err := d.process(ctx, kept)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			// The database is unreachable (restarting, say): nothing of
			// this batch has been delivered and nothing is confirmed, so
			// trying again loses and duplicates nothing.
			d.log.Warn("dispatch changes: retrying", "error", err, "retry_in", wait.Next())
			if !wait.Wait(ctx) {
				return
			}
		}
		d.behindAt.Store(0)
		d.processed.Store(uint64(batch[len(batch)-1].End))
	}
}

// maxBatchMessages bounds the subscriptions a batch's changes may reach
// (changes × subscriptions on their tables), beside MaxBatchChanges: 500
// changes for 2,000 subscribers would be a million messages built before
// the first goes out, seconds during which nothing else is dispatched.
// Smaller batches keep delivery flowing; their checks cost about the same
// as larger ones (a call per role and table).
const maxBatchMessages = 50_000

// fanout is how many subscriptions t's changes could reach, at most.
func fanout(t *wal.Txn, idx *subIndex) int {
	n := 0
	for i := range t.Changes {
		n += len(idx.byRel[t.Changes[i].Rel.ID])
	}
	return n
}

// oldestCommit is the commit time (ns) of the batch's earliest
// transaction with changes, or 0.
func oldestCommit(batch []*wal.Txn) int64 {
	for _, t := range batch {
		if len(t.Changes) > 0 && !t.CommitTime.IsZero() {
			return t.CommitTime.UnixNano()
		}
	}
	return 0
}

func (d *dispatcher) process(ctx context.Context, batch []*wal.Txn) error {
	idx := d.hub.subs.Load()
	now := time.Now()
	pend, rels := collectChanges(batch, idx)
	d.stats.batches.Add(1)
	if len(pend) == 0 {
		return nil
	}
	metas, err := d.cat.tablesFor(ctx, rels, now)
	if err != nil {
		return err
	}
	// Match events and filters; collect the (role, table) pairs whose
	// column privileges and policies decide what is sent.
	roleRels := map[privKey]bool{}
	for _, p := range pend {
		p.meta = metas[p.ch.Rel.ID]
		if p.meta == nil {
			continue
		}
		for _, s := range idx.byRel[p.ch.Rel.ID] {
			if s.events&p.ch.Kind == 0 || s.ch.isClosed() {
				continue
			}
			h := hit{sub: s, auth: s.ch.auth.Load()}
			if p.match(s, &h) {
				p.hits = append(p.hits, h)
				roleRels[privKey{h.auth.role, p.meta.oid}] = true
			}
		}
	}
	var keys, rlsKeys []privKey
	for k := range roleRels {
		keys = append(keys, k)
		if metas[k.rel].rls {
			rlsKeys = append(rlsKeys, k)
		}
	}
	privs, err := d.cat.privileges(ctx, keys, now)
	if err != nil {
		return err
	}
	pols, err := d.cat.policies(ctx, rlsKeys, metas, now)
	if err != nil {
		return err
	}
	// Decide what needs no database; check the rest in one round trip.
	c := checks{noDedup: d.noDedup.Load()}
	for _, p := range pend {
		if len(p.hits) > 0 {
			d.decide(p, privs, pols, &c)
		}
	}
	if len(c.order) > 0 {
		start := time.Now()
		var xids []int64
		for _, t := range batch {
			if len(t.Changes) > 0 {
				xids = append(xids, int64(t.XID))
			}
		}
		if err := d.awaitVisible(ctx, xids); err != nil {
			return err
		}
		if err := d.checkVisibility(ctx, c.order); err != nil {
			return err
		}
		d.nextAt = time.Now().Add(time.Since(start) / 2)
	}
	d.stats.changes.Add(int64(len(pend)))
	d.observeLag(batch) // before the messages go out, so a client that has one sees it counted
	delivered := 0
	for _, p := range pend {
		if len(p.hits) > 0 {
			delivered += d.deliver(p, privs)
		}
	}
	if d.log.Enabled(ctx, slog.LevelDebug) {
		hits := 0
		for _, p := range pend {
			hits += len(p.hits)
		}
		d.log.Debug("dispatched batch", "transactions", len(batch), "changes", len(pend), "hits", hits, "messages", delivered, "groups", len(c.order), "end", batch[len(batch)-1].End)
	}
	return nil
}

// collectChanges returns the batch's changes to tables someone subscribes
// to, and those tables.
func collectChanges(batch []*wal.Txn, idx *subIndex) ([]*pendingChange, []uint32) {
	var pend []*pendingChange
	relSet := map[uint32]bool{}
	for _, t := range batch {
		for i := range t.Changes {
			ch := &t.Changes[i]
			if len(idx.byRel[ch.Rel.ID]) == 0 {
				continue
			}
			relSet[ch.Rel.ID] = true
			pend = append(pend, &pendingChange{ch: ch, commitTime: t.CommitTime})
		}
	}
	rels := make([]uint32, 0, len(relSet))
	for r := range relSet {
		rels = append(rels, r)
	}
	return pend, rels
}

// payloadKey identifies subscribers that get the same change payload: the
// same role (column privileges), the same selected columns, the same shape.
type payloadKey struct {
	role  string
	sel   string
	err   string
	shape eventShape
}

// deliver queues the change to every subscriber that may see it, one
// message per channel, and returns how many messages it queued. Subscribers
// of one channel share their token, so they get the same shape.
func (d *dispatcher) deliver(p *pendingChange, privs map[privKey]map[string]bool) int {
	type target struct {
		ch   *channel
		ids  []int64
		data []byte
	}
	var targets []*target
	byChannel := map[*channel]*target{}
	datas := map[payloadKey][]byte{}
	for i := range p.hits {
		h := &p.hits[i]
		shape := h.shape(p.ch.Kind)
		if shape == shapeNone {
			continue
		}
		bt := h.sub.bt
		key := payloadKey{role: h.auth.role, err: h.err, shape: shape}
		if bt.selected != nil {
			key.sel = h.sub.selKey
		}
		data, ok := datas[key]
		if !ok {
			data = buildData(p, privs[privKey{h.auth.role, p.meta.oid}], bt.selected, h.err, shape)
			datas[key] = data
		}
		t := byChannel[h.sub.ch]
		if t == nil {
			t = &target{ch: h.sub.ch, data: data}
			byChannel[h.sub.ch] = t
			targets = append(targets, t)
		}
		t.ids = append(t.ids, h.sub.b.id)
	}
	n := 0
	for _, t := range targets {
		if t.ch.conn.send(outFrame{data: encodeChange(t.ch, t.ids, t.data)}) {
			d.stats.delivered.Add(1)
			n++
		}
	}
	return n
}

// encodeChange builds a postgres_changes push for one channel.
func encodeChange(ch *channel, ids []int64, data []byte) []byte {
	buf := make([]byte, 0, len(data)+len(ch.topic)+64)
	if ch.conn.vsn == phoenix.V1 {
		buf = append(buf, `{"topic":`...)
		buf = phoenix.AppendString(buf, ch.topic)
		buf = append(buf, `,"event":"postgres_changes","payload":{"ids":[`...)
	} else {
		buf = append(buf, `[null,null,`...)
		buf = phoenix.AppendString(buf, ch.topic)
		buf = append(buf, `,"postgres_changes",{"ids":[`...)
	}
	for i, id := range ids {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendInt(buf, id, 10)
	}
	buf = append(buf, `],"data":`...)
	buf = append(buf, data...)
	if ch.conn.vsn == phoenix.V1 {
		return append(buf, `},"ref":null}`...)
	}
	return append(buf, `}]`...)
}

// buildData renders the change as the official server does: schema, table,
// type, commit_timestamp, the columns the role may select, record (INSERT,
// UPDATE), old_record (UPDATE, DELETE; primary key only for a DELETE on a
// table with row-level security) and errors. The shape narrows record or
// old_record to the primary key for versions the subscriber may not see.
func buildData(p *pendingChange, privs map[string]bool, selected map[string]bool, errText string, shape eventShape) []byte {
	m, ch := p.meta, p.ch
	isPK := func(name string) bool {
		for _, ci := range m.pk {
			if m.columns[ci].name == name {
				return true
			}
		}
		return false
	}
	visible := func(name string) bool {
		return privs[name] && (selected == nil || selected[name] || isPK(name))
	}
	buf := make([]byte, 0, 512)
	buf = append(buf, `{"schema":`...)
	buf = phoenix.AppendString(buf, m.schema)
	buf = append(buf, `,"table":`...)
	buf = phoenix.AppendString(buf, m.name)
	buf = append(buf, `,"type":"`...)
	buf = append(buf, ch.Kind.String()...)
	buf = append(buf, '"')
	if errText != "" && errText != errPayloadTooLarge {
		buf = append(buf, `,"errors":[`...)
		buf = phoenix.AppendString(buf, errText)
		return append(buf, "]}"...)
	}
	buf = append(buf, `,"commit_timestamp":"`...)
	buf = p.commitTime.UTC().AppendFormat(buf, "2006-01-02T15:04:05.000Z")
	buf = append(buf, `","columns":[`...)
	first := true
	for _, c := range m.columns {
		if !visible(c.name) {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, `{"name":`...)
		buf = phoenix.AppendString(buf, c.name)
		buf = append(buf, `,"type":`...)
		buf = phoenix.AppendString(buf, c.typ.name)
		buf = append(buf, '}')
	}
	buf = append(buf, ']')
	tooLarge := recordSize(ch) > maxRecordBytes
	typeOf := func(name string, oid uint32) *typeInfo {
		if i, ok := m.byName[name]; ok {
			return m.columns[i].typ
		}
		return &typeInfo{oid: oid, kind: jsonString, cmp: cmpOther}
	}
	appendRow := func(row []wal.Value, keyOnly bool, pkOnly bool, fallback []wal.Value) {
		buf = append(buf, '{')
		first := true
		for i, col := range ch.Rel.Columns {
			if i >= len(row) || !visible(col.Name) || (keyOnly && !col.Key) || (pkOnly && !isPK(col.Name)) {
				continue
			}
			v := row[i]
			if v.Unchanged {
				if i >= len(fallback) || fallback[i].Unchanged {
					continue // the stream did not repeat it and has no old value
				}
				v = fallback[i]
			}
			var val []byte
			if v.Null {
				val = []byte("null")
			} else {
				val = appendValue(nil, typeOf(col.Name, col.TypeOID), v.Text)
			}
			if tooLarge && len(val) > 64 {
				continue
			}
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = phoenix.AppendString(buf, col.Name)
			buf = append(buf, ':')
			buf = append(buf, val...)
		}
		buf = append(buf, '}')
	}
	switch ch.Kind {
	case wal.Insert:
		buf = append(buf, `,"record":`...)
		appendRow(ch.NewRow, false, false, nil)
	case wal.Update:
		buf = append(buf, `,"record":`...)
		appendRow(ch.NewRow, false, shape == shapeMovedOut, ch.OldRow)
		buf = append(buf, `,"old_record":`...)
		if ch.OldRow != nil {
			appendRow(ch.OldRow, ch.OldIsKey, shape == shapeOldKey, nil)
		} else {
			// No old tuple: the replica identity columns of the new row,
			// as wal2json reports them.
			appendRow(ch.NewRow, true, shape == shapeOldKey, nil)
		}
	case wal.Delete:
		buf = append(buf, `,"old_record":`...)
		appendRow(ch.OldRow, ch.OldIsKey, m.rls, nil)
	}
	if tooLarge {
		buf = append(buf, `,"errors":[`...)
		buf = phoenix.AppendString(buf, errPayloadTooLarge)
		buf = append(buf, "]}"...)
	} else {
		buf = append(buf, `,"errors":null}`...)
	}
	return buf
}

func recordSize(ch *wal.Change) int {
	n := 0
	for _, v := range ch.NewRow {
		n += len(v.Text) + 16
	}
	for _, v := range ch.OldRow {
		n += len(v.Text) + 16
	}
	return n
}
