package realtime

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sfp-dev/sfp/pkg/realtime/phoenix"
)

// maxRecordBytes is the size above which the official server drops values
// longer than 64 bytes from a change and reports "Error 413".
const maxRecordBytes = 1024 * 1024

// dispatcher turns committed transactions into postgres_changes messages:
// it matches subscriptions (event, filters), checks row visibility for the
// subscribers of tables with row-level security in one database round trip
// per batch, and queues one message per channel, in commit order.
type dispatcher struct {
	in        <-chan *walTxn
	pool      *pgxpool.Pool
	cat       *catalog
	hub       *hub
	log       *slog.Logger
	maxBatch  int
	parallel  int // connections visibility checks may use at once
	processed *atomic.Uint64
	stats     dispatchStats
	nextAt    time.Time // when the next batch may start (pacing)
}

// maxPause bounds the pause between batches that pacing imposes.
const maxPause = 100 * time.Millisecond

// dispatchStats are counters for tests and benchmarks.
type dispatchStats struct {
	batches   atomic.Int64
	changes   atomic.Int64
	checks    atomic.Int64 // visibility statements run
	delivered atomic.Int64 // messages queued to clients
}

func (d *dispatcher) run(ctx context.Context) {
	for {
		var batch []*walTxn
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
		n := len(batch[0].changes)
	fill:
		for n < d.maxBatch {
			select {
			case t := <-d.in:
				batch = append(batch, t)
				n += len(t.changes)
			default:
				break fill
			}
		}
		backoff := 50 * time.Millisecond
		for {
			err := d.process(ctx, batch)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			// The database is unreachable (restarting, say): nothing of
			// this batch has been delivered and nothing is confirmed, so
			// trying again loses and duplicates nothing.
			d.log.Warn("dispatch changes: retrying", "error", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 2*time.Second)
		}
		d.processed.Store(uint64(batch[len(batch)-1].end))
	}
}

// hit is a subscription a change matched (event and filters).
type hit struct {
	sub  *subscription
	auth *authState
}

// pendingChange is a change with the subscriptions it may go to.
type pendingChange struct {
	ch         *walChange
	meta       *tableMeta
	commitTime time.Time
	hits       []hit
	visible    []bool
	// errs is the payload error for each hit ("Error 401: …"), or "".
	errs []string
	// rlsAt is each hit's slot in its visibility group, or -1.
	rlsAt []rlsRef
}

type rlsRef struct {
	rows *rlsRows
	idx  int
}

// rlsGroup is the set of rows to check for one (role, claims).
type rlsGroup struct {
	auth *authState
	rels map[uint32]*rlsRows
	// order of rels for a stable statement order
	relOrder []uint32
}

// rlsRows are primary keys of one table to check, column by column.
type rlsRows struct {
	meta    *tableMeta
	cols    [][]string
	index   map[string]int
	visible []bool
}

func (d *dispatcher) process(ctx context.Context, batch []*walTxn) error {
	idx := d.hub.subs.Load()
	now := time.Now()
	var pend []*pendingChange
	relSet := map[uint32]bool{}
	for _, t := range batch {
		for i := range t.changes {
			ch := &t.changes[i]
			if len(idx.byRel[ch.rel.id]) == 0 {
				continue
			}
			relSet[ch.rel.id] = true
			pend = append(pend, &pendingChange{ch: ch, commitTime: t.commitTime})
		}
	}
	d.stats.batches.Add(1)
	if len(pend) == 0 {
		return nil
	}
	rels := make([]uint32, 0, len(relSet))
	for r := range relSet {
		rels = append(rels, r)
	}
	metas, err := d.cat.tablesFor(ctx, rels, now)
	if err != nil {
		return err
	}
	// Match event and filters; collect the (role, table) pairs whose
	// column privileges shape the payloads.
	privSet := map[privKey]bool{}
	for _, p := range pend {
		p.meta = metas[p.ch.rel.id]
		if p.meta == nil {
			continue
		}
		row := rowOf{rel: p.ch.rel, row: p.ch.newRow}
		if p.ch.kind == kindDelete {
			row = rowOf{rel: p.ch.rel, row: p.ch.oldRow, isKey: p.ch.oldIsKey}
		}
		for _, s := range idx.byRel[p.ch.rel.id] {
			if s.events&p.ch.kind == 0 || s.ch.isClosed() {
				continue
			}
			if !matchFilters(s.bt.filters, row) {
				continue
			}
			a := s.ch.auth.Load()
			p.hits = append(p.hits, hit{sub: s, auth: a})
			privSet[privKey{a.role, p.meta.oid}] = true
		}
	}
	keys := make([]privKey, 0, len(privSet))
	for k := range privSet {
		keys = append(keys, k)
	}
	privs, err := d.cat.privileges(ctx, keys, now)
	if err != nil {
		return err
	}
	// Decide per hit: visible now, visible after a check, or an error.
	groups := map[string]*rlsGroup{}
	var groupOrder []*rlsGroup
	for _, p := range pend {
		if len(p.hits) == 0 {
			continue
		}
		p.visible = make([]bool, len(p.hits))
		p.errs = make([]string, len(p.hits))
		p.rlsAt = make([]rlsRef, len(p.hits))
		var pkKey string
		var pkVals []string
		for i, h := range p.hits {
			p.rlsAt[i].idx = -1
			if p.ch.kind == kindDelete {
				// Deletes are not checked: the row is gone.
				p.visible[i] = true
				continue
			}
			if len(p.meta.pk) == 0 {
				p.visible[i], p.errs[i] = true, errNoPrimaryKey
				continue
			}
			sel := privs[privKey{h.auth.role, p.meta.oid}]
			if !pkSelectable(p.meta, sel) {
				p.visible[i], p.errs[i] = true, errUnauthorized
				continue
			}
			if !p.meta.rls {
				p.visible[i] = true
				continue
			}
			if pkVals == nil {
				var ok bool
				pkVals, pkKey, ok = primaryKey(p.ch, p.meta)
				if !ok {
					break // no usable key in the stream: nothing to check against
				}
			}
			g := groups[h.auth.group]
			if g == nil {
				g = &rlsGroup{auth: h.auth, rels: map[uint32]*rlsRows{}}
				groups[h.auth.group] = g
				groupOrder = append(groupOrder, g)
			}
			rr := g.rels[p.meta.oid]
			if rr == nil {
				rr = &rlsRows{meta: p.meta, cols: make([][]string, len(p.meta.pk)), index: map[string]int{}}
				g.rels[p.meta.oid] = rr
				g.relOrder = append(g.relOrder, p.meta.oid)
			}
			at, ok := rr.index[pkKey]
			if !ok {
				at = len(rr.index)
				rr.index[pkKey] = at
				for c, v := range pkVals {
					rr.cols[c] = append(rr.cols[c], v)
				}
			}
			p.rlsAt[i] = rlsRef{rows: rr, idx: at}
		}
	}
	if len(groupOrder) > 0 {
		start := time.Now()
		var xids []int64
		for _, t := range batch {
			if len(t.changes) > 0 {
				xids = append(xids, int64(t.xid))
			}
		}
		if err := d.awaitVisible(ctx, xids); err != nil {
			return err
		}
		if err := d.checkVisibility(ctx, groupOrder); err != nil {
			return err
		}
		d.nextAt = time.Now().Add(time.Since(start) / 2)
		for _, p := range pend {
			for i, ref := range p.rlsAt {
				if ref.rows != nil {
					p.visible[i] = ref.rows.visible[ref.idx]
				}
			}
		}
	}
	d.stats.changes.Add(int64(len(pend)))
	for _, p := range pend {
		if len(p.hits) > 0 {
			d.deliver(p, privs)
		}
	}
	if d.log.Enabled(ctx, slog.LevelDebug) {
		hits, visible := 0, 0
		for _, p := range pend {
			hits += len(p.hits)
			for _, v := range p.visible {
				if v {
					visible++
				}
			}
		}
		d.log.Debug("dispatched batch", "transactions", len(batch), "changes", len(pend), "hits", hits, "visible", visible, "groups", len(groupOrder), "end", batch[len(batch)-1].end)
	}
	return nil
}

func pkSelectable(m *tableMeta, sel map[string]bool) bool {
	for _, ci := range m.pk {
		if !sel[m.columns[ci].name] {
			return false
		}
	}
	return true
}

// primaryKey returns the text of the new row's primary key columns.
func primaryKey(ch *walChange, m *tableMeta) ([]string, string, bool) {
	vals := make([]string, len(m.pk))
	for i, ci := range m.pk {
		name := m.columns[ci].name
		j, ok := ch.rel.byName[name]
		if !ok || j >= len(ch.newRow) {
			return nil, "", false
		}
		v := ch.newRow[j]
		if v.null || v.unchanged {
			return nil, "", false
		}
		vals[i] = v.text
	}
	return vals, strings.Join(vals, "\x00"), true
}

const setClaimsSQL = `select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)`

// checkVisibility asks the database, in one round trip, which rows each
// (role, claims) group may select now: one transaction in which, for each
// group, the role and claims are set as PostgREST sets them and one
// statement per table returns the visible primary keys.
func (d *dispatcher) checkVisibility(ctx context.Context, groups []*rlsGroup) error {
	// Same role together: a role change invalidates cached plans.
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].auth.role < groups[j].auth.role })
	for _, g := range groups {
		for _, rr := range g.rels {
			rr.visible = make([]bool, len(rr.index))
		}
	}
	// Many groups are split over a few connections, checked in parallel:
	// still one round trip each.
	parts := min(d.parallel, (len(groups)+minGroupsPerConn-1)/minGroupsPerConn)
	if parts <= 1 {
		return d.checkPart(ctx, groups)
	}
	errs := make(chan error, parts)
	size := (len(groups) + parts - 1) / parts
	for i := 0; i < len(groups); i += size {
		part := groups[i:min(i+size, len(groups))]
		go func() { errs <- d.checkPart(ctx, part) }()
	}
	var first error
	for i := 0; i < len(groups); i += size {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// runningSQL counts which of the given transaction ids a new snapshot
// does not see as finished: at or above its xmax, or listed as running.
// pgoutput sends 32-bit ids; the snapshot's epoch makes them 64-bit.
const runningSQL = `with s as (select pg_catalog.pg_current_snapshot() as snap),
b as (select pg_catalog.pg_snapshot_xmax(snap)::text::bigint as xmax from s)
select count(*) from unnest($1::bigint[]) as t(x), s, b
where not pg_catalog.pg_visible_in_snapshot(
  ((((b.xmax >> 32) - case when t.x > (b.xmax & 4294967295) then 1 else 0 end) << 32) | t.x)::text::xid8, s.snap)`

// awaitVisible waits until the batch's transactions are visible to new
// snapshots. A commit is flushed to the WAL (and so decoded) a moment
// before the committing backend leaves the list of running transactions;
// a check in that moment would find the row invisible and drop the change.
func (d *dispatcher) awaitVisible(ctx context.Context, xids []int64) error {
	if len(xids) == 0 {
		return nil
	}
	for wait := 100 * time.Microsecond; ; wait = min(wait*2, 50*time.Millisecond) {
		var running int
		if err := d.pool.QueryRow(ctx, runningSQL, xids).Scan(&running); err != nil {
			return fmt.Errorf("wait for committed transactions: %w", err)
		}
		if running == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// minGroupsPerConn is the fewest groups worth a connection of their own.
const minGroupsPerConn = 64

func (d *dispatcher) checkPart(ctx context.Context, groups []*rlsGroup) error {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("check row visibility: %w", err)
	}
	defer func() {
		if conn.Conn().PgConn().TxStatus() != 'I' {
			_, _ = conn.Exec(ctx, "rollback") // the pool would drop the connection otherwise
		}
		conn.Release()
	}()
	err = d.runChecks(ctx, conn.Conn(), groups)
	if err == nil || !isSQLError(err) {
		return err
	}
	// A statement failed (a policy raised, say): check group by group so
	// one group's failure hides rows from that group only.
	d.log.Warn("row visibility check failed; checking subscribers one group at a time", "error", err)
	for _, g := range groups {
		for _, rr := range g.rels {
			clear(rr.visible)
		}
		// The failed pipeline skipped its commit: end the transaction
		// before the next one.
		if _, err := conn.Exec(ctx, "rollback"); err != nil {
			return fmt.Errorf("check row visibility: %w", err)
		}
		if err := d.runChecks(ctx, conn.Conn(), []*rlsGroup{g}); err != nil {
			if !isSQLError(err) {
				return err
			}
			d.log.Warn("row visibility check failed; the group receives none of these changes", "role", g.auth.role, "error", err)
			for _, rr := range g.rels {
				clear(rr.visible)
			}
		}
	}
	return nil
}

func (d *dispatcher) runChecks(ctx context.Context, conn *pgx.Conn, groups []*rlsGroup) error {
	b := &pgx.Batch{}
	b.Queue("begin")
	type stmt struct{ rr *rlsRows }
	var order []stmt
	for _, g := range groups {
		b.Queue(setClaimsSQL, g.auth.role, string(g.auth.claims))
		order = append(order, stmt{})
		for _, rel := range g.relOrder {
			rr := g.rels[rel]
			args := make([]any, len(rr.cols))
			for i, c := range rr.cols {
				args[i] = c
			}
			b.Queue(rr.meta.checkSQL, args...)
			order = append(order, stmt{rr: rr})
			d.stats.checks.Add(1)
		}
	}
	b.Queue("commit")
	br := conn.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return fmt.Errorf("check row visibility: %w", err)
	}
	for _, s := range order {
		if s.rr == nil {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return fmt.Errorf("check row visibility: set role and claims: %w", err)
			}
			continue
		}
		rows, err := br.Query()
		if err != nil {
			br.Close()
			return fmt.Errorf("check row visibility of %s.%s: %w", s.rr.meta.schema, s.rr.meta.name, err)
		}
		for rows.Next() {
			var ord int64
			if err := rows.Scan(&ord); err != nil {
				rows.Close()
				br.Close()
				return fmt.Errorf("check row visibility: %w", err)
			}
			if ord >= 1 && int(ord) <= len(s.rr.visible) {
				s.rr.visible[ord-1] = true
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			br.Close()
			return fmt.Errorf("check row visibility of %s.%s: %w", s.rr.meta.schema, s.rr.meta.name, err)
		}
	}
	if _, err := br.Exec(); err != nil {
		br.Close()
		return fmt.Errorf("check row visibility: commit: %w", err)
	}
	return br.Close()
}

// payloadKey identifies subscribers that get the same change payload: the
// same role (column privileges) and the same selected columns.
type payloadKey struct {
	role string
	sel  string
	err  string
}

func (d *dispatcher) deliver(p *pendingChange, privs map[privKey]map[string]bool) {
	type target struct {
		ch   *channel
		ids  []int64
		data []byte
	}
	var targets []*target
	byChannel := map[*channel]*target{}
	datas := map[payloadKey][]byte{}
	for i, h := range p.hits {
		if !p.visible[i] {
			continue
		}
		bt := h.sub.bt
		key := payloadKey{role: h.auth.role, err: p.errs[i]}
		if bt.selected != nil {
			key.sel = h.sub.selKey
		}
		data, ok := datas[key]
		if !ok {
			data = buildData(p, privs[privKey{h.auth.role, p.meta.oid}], bt.selected, p.errs[i])
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
	for _, t := range targets {
		if t.ch.conn.send(outFrame{data: encodeChange(t.ch, t.ids, t.data)}) {
			d.stats.delivered.Add(1)
		}
	}
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
// table with row-level security) and errors.
func buildData(p *pendingChange, privs map[string]bool, selected map[string]bool, errText string) []byte {
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
	buf = append(buf, ch.kind.String()...)
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
	appendRow := func(row []walValue, keyOnly bool, pkOnly bool, fallback []walValue) {
		buf = append(buf, '{')
		first := true
		for i, col := range ch.rel.columns {
			if i >= len(row) || !visible(col.name) || (keyOnly && !col.key) || (pkOnly && !isPK(col.name)) {
				continue
			}
			v := row[i]
			if v.unchanged {
				if i >= len(fallback) || fallback[i].unchanged {
					continue // the stream did not repeat it and has no old value
				}
				v = fallback[i]
			}
			var val []byte
			if v.null {
				val = []byte("null")
			} else {
				val = appendValue(nil, typeOf(col.name, col.typeOID), v.text)
			}
			if tooLarge && len(val) > 64 {
				continue
			}
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = phoenix.AppendString(buf, col.name)
			buf = append(buf, ':')
			buf = append(buf, val...)
		}
		buf = append(buf, '}')
	}
	switch ch.kind {
	case kindInsert:
		buf = append(buf, `,"record":`...)
		appendRow(ch.newRow, false, false, nil)
	case kindUpdate:
		buf = append(buf, `,"record":`...)
		appendRow(ch.newRow, false, false, ch.oldRow)
		buf = append(buf, `,"old_record":`...)
		if ch.oldRow != nil {
			appendRow(ch.oldRow, ch.oldIsKey, false, nil)
		} else {
			// No old tuple: the replica identity columns of the new row,
			// as wal2json reports them.
			appendRow(ch.newRow, true, false, nil)
		}
	case kindDelete:
		buf = append(buf, `,"old_record":`...)
		appendRow(ch.oldRow, ch.oldIsKey, m.rls, nil)
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

func recordSize(ch *walChange) int {
	n := 0
	for _, v := range ch.newRow {
		n += len(v.text) + 16
	}
	for _, v := range ch.oldRow {
		n += len(v.text) + 16
	}
	return n
}
