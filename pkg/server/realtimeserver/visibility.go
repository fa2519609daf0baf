package realtimeserver

import (
	"context"
	"errors"
	"fmt"
	"github.com/sfp-dev/sfp/pkg/server/realtimeserver/wal"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The rule the dispatcher enforces: a subscriber receives an event about a
// row only if it could see the version of the row the event is about.
//
//   - INSERT: the new row.
//   - UPDATE: the new row; old_record carries the old values
//     only if the subscriber could also see the old row, else only the
//     primary key. An UPDATE that moves a row out of a subscriber's sight
//     (it could see the old row, not the new one) reaches it with old_record
//     and a record holding only the primary key: the row is gone from its
//     view, nothing of the new row is shown.
//   - DELETE: the old row. A subscriber that could not see the row receives
//     nothing, whatever its filters.
//
// "Could see" is decided by the table's SELECT policies for the
// subscriber's role and claims, evaluated when the change is dispatched,
// on the version's values (see rowPolicy). Filters are evaluated on the same
// version, so a filter cannot probe values the subscriber may not see. A
// new row the stream does not carry whole enough for the policies (an
// unchanged TOASTed value they read) is judged as the official server
// judges every row: it must exist now and be selectable by the role.

// hit is one subscription a change may go to, and what was decided for it.
type hit struct {
	sub  *subscription
	auth *authState
	// matchNew: the binding's filters match the new row (INSERT, UPDATE).
	matchNew bool
	// matchOld: they match the old row (DELETE; UPDATE with the whole old
	// row, on a table with row-level security).
	matchOld bool
	newSeen  verdict
	oldSeen  verdict
	// err is the payload error ("Error 401: …"), or "".
	err string
}

// verdict is whether a subscriber may see one version of a row: decided
// at once, or by a pending database check.
type verdict struct {
	visible bool
	rows    *checkRows // nil: decided
	idx     int
}

func (v *verdict) resolve() {
	if v.rows != nil {
		v.visible = v.rows.visible[v.idx]
		v.rows = nil
	}
}

func decided(visible bool) verdict { return verdict{visible: visible} }

// pendingChange is a change with the subscriptions it may go to.
type pendingChange struct {
	ch         *wal.Change
	meta       *tableMeta
	commitTime time.Time
	hits       []hit
	// newVals and oldVals are the versions' values by table column (nil
	// until needed); missing columns are those the stream did not carry.
	newVals, oldVals       []*string
	newMissing, oldMissing []bool
}

// oldIsWhole reports whether the change carries the whole old row
// (REPLICA IDENTITY FULL), not just its key.
func (p *pendingChange) oldIsWhole() bool { return p.ch.OldRow != nil && !p.ch.OldIsKey }

// match sets the hit's filter results for the change and reports whether
// the subscription can receive anything for it.
func (p *pendingChange) match(s *subscription, h *hit) bool {
	ch := p.ch
	switch ch.Kind {
	case wal.Insert:
		h.matchNew = matchFilters(s.bt.filters, rowOf{rel: ch.Rel, row: ch.NewRow})
	case wal.Update:
		h.matchNew = matchFilters(s.bt.filters, rowOf{rel: ch.Rel, row: ch.NewRow})
		if p.meta.rls && p.oldIsWhole() {
			h.matchOld = matchFilters(s.bt.filters, rowOf{rel: ch.Rel, row: ch.OldRow})
		}
	case wal.Delete:
		h.matchOld = matchFilters(s.bt.filters, rowOf{rel: ch.Rel, row: ch.OldRow, isKey: ch.OldIsKey})
	}
	return h.matchNew || h.matchOld
}

// versions fills the new and old versions' values, by table column.
func (p *pendingChange) versions() {
	if p.newVals != nil || p.oldVals != nil {
		return
	}
	m, ch := p.meta, p.ch
	read := func(row []wal.Value, keyOnly bool, fallback []wal.Value) ([]*string, []bool) {
		vals := make([]*string, len(m.columns))
		missing := make([]bool, len(m.columns))
		for ci, col := range m.columns {
			j, ok := ch.Rel.ByName[col.name]
			if !ok || j >= len(row) || (keyOnly && !ch.Rel.Columns[j].Key) {
				missing[ci] = true
				continue
			}
			v := row[j]
			if v.Unchanged {
				if j >= len(fallback) || fallback[j].Unchanged {
					missing[ci] = true
					continue
				}
				v = fallback[j]
			}
			if !v.Null {
				t := v.Text
				vals[ci] = &t
			}
		}
		return vals, missing
	}
	if ch.Kind != wal.Delete {
		var fallback []wal.Value
		if p.oldIsWhole() {
			fallback = ch.OldRow
		}
		p.newVals, p.newMissing = read(ch.NewRow, false, fallback)
	}
	if ch.OldRow != nil {
		p.oldVals, p.oldMissing = read(ch.OldRow, ch.OldIsKey, nil)
	}
}

// judgeable reports whether a version carries every column the policy
// reads.
func judgeable(pol *rowPolicy, missing []bool) bool {
	if pol.wholeRow {
		for _, m := range missing {
			if m {
				return false
			}
		}
		return true
	}
	for _, ci := range pol.needs {
		if missing[ci] {
			return false
		}
	}
	return true
}

// prepareAs makes sure a version statement is prepared on conn. Statements
// are prepared before the batch that runs them, as the session user
// (authenticator), and the policies in a version statement may call
// functions in schemas only the subscriber's role may use (auth.uid());
// such a statement is prepared once more as that role, inside a
// transaction that sets it. Prepared statements outlive the transaction,
// and PostgreSQL checks privileges again when each one runs.
func prepareAs(ctx context.Context, conn *pgx.Conn, a *authState, sql string) error {
	if _, err := conn.Prepare(ctx, sql, sql); err == nil || !isSQLError(err) {
		return err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // prepares only
	if _, err := tx.Exec(ctx, setClaimsSQL, a.role, string(a.claims)); err != nil {
		return err
	}
	if _, err := conn.Prepare(ctx, sql, sql); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// checkGroup is the set of row versions to check for one (role, claims).
type checkGroup struct {
	auth     *authState
	rels     map[checkKey]*checkRows
	relOrder []checkKey // for a stable statement order
}

// checkKey names one statement of a group: a table, judged by version or
// by key.
type checkKey struct {
	rel   uint32
	keyed bool
}

// checkRows are the rows of one table one group needs judged, column by
// column, with the statement that judges them: by version (the policies
// on the version's values, rowPolicy.checkSQL) or by key (the row must
// exist now and be selectable, tableMeta.checkSQL).
type checkRows struct {
	meta    *tableMeta
	pol     *rowPolicy // the policies judging versions; nil when keyed
	sql     string
	keyed   bool
	cols    [][]*string
	index   map[any]int
	visible []bool
}

func (rr *checkRows) args() []any {
	args := make([]any, len(rr.cols))
	for i, c := range rr.cols {
		args[i] = c
	}
	return args
}

// versionKey identifies a version within a batch.
type versionKey struct {
	p   *pendingChange
	old bool
}

// checks collects the database checks of one batch.
type checks struct {
	groups map[string]*checkGroup
	order  []*checkGroup
	// noDedup judges every version on its own (benchmarks' baseline).
	noDedup bool
}

func (c *checks) rows(a *authState, m *tableMeta, sql string, keyed bool) *checkRows {
	if c.groups == nil {
		c.groups = map[string]*checkGroup{}
	}
	g := c.groups[a.group]
	if g == nil {
		g = &checkGroup{auth: a, rels: map[checkKey]*checkRows{}}
		c.groups[a.group] = g
		c.order = append(c.order, g)
	}
	k := checkKey{m.oid, keyed}
	rr := g.rels[k]
	if rr == nil {
		n := len(m.columns)
		if keyed {
			n = len(m.pk)
		}
		rr = &checkRows{meta: m, sql: sql, keyed: keyed, cols: make([][]*string, n), index: map[any]int{}}
		g.rels[k] = rr
		g.relOrder = append(g.relOrder, k)
	}
	return rr
}

// existsNow queues a check that the change's row exists now and the group
// may select it, by primary key.
func (c *checks) existsNow(a *authState, p *pendingChange) verdict {
	m := p.meta
	p.versions()
	key := make([]string, len(m.pk))
	for i, ci := range m.pk {
		if p.newMissing[ci] || p.newVals[ci] == nil {
			return decided(false) // no usable key in the stream
		}
		key[i] = *p.newVals[ci]
	}
	rr := c.rows(a, m, m.checkSQL, true)
	k := strings.Join(key, "\x00")
	at, ok := rr.index[k]
	if !ok {
		at = len(rr.index)
		rr.index[k] = at
		for i, ci := range m.pk {
			rr.cols[i] = append(rr.cols[i], p.newVals[ci])
		}
	}
	return verdict{rows: rr, idx: at}
}

// version queues a check of one version against the group's policies. A
// new row the stream lacks columns of is checked by key instead; an old
// one is not visible.
func (c *checks) version(a *authState, pol *rowPolicy, p *pendingChange, old bool) verdict {
	p.versions()
	vals, missing := p.newVals, p.newMissing
	if old {
		vals, missing = p.oldVals, p.oldMissing
	}
	if !judgeable(pol, missing) {
		if old {
			return decided(false) // the stream lacks what the policies read
		}
		return c.existsNow(a, p)
	}
	rr := c.rows(a, p.meta, pol.checkSQL, false)
	rr.pol = pol
	var k any = versionKey{p, old}
	if pol.dedup && !pol.wholeRow && !c.noDedup {
		k = neededKey(pol, vals)
	}
	at, ok := rr.index[k]
	if !ok {
		at = len(rr.index)
		rr.index[k] = at
		for ci := range rr.cols {
			rr.cols[ci] = append(rr.cols[ci], vals[ci])
		}
	}
	return verdict{rows: rr, idx: at}
}

// neededKey identifies a version by the values of the columns the policy
// reads: versions with equal keys get the same verdict (rowPolicy.dedup).
func neededKey(pol *rowPolicy, vals []*string) string {
	var b strings.Builder
	for _, ci := range pol.needs {
		if vals[ci] == nil {
			b.WriteString("n;")
			continue
		}
		b.WriteString(strconv.Itoa(len(*vals[ci])))
		b.WriteByte(':')
		b.WriteString(*vals[ci])
	}
	return b.String()
}

// decide settles, for every hit of a change, what the subscriber may see,
// deciding at once what needs no database and queueing the rest on c.
func (d *dispatcher) decide(p *pendingChange, privs map[privKey]map[string]bool, pols map[privKey]*rowPolicy, c *checks) {
	m := p.meta
	for i := range p.hits {
		h := &p.hits[i]
		isNew := p.ch.Kind != wal.Delete
		if !m.rls {
			// No row-level security: a change goes to every subscriber
			// whose filters match, as the official server sends it.
			h.newSeen, h.oldSeen = decided(isNew), decided(true)
			switch {
			case len(m.pk) == 0:
				h.err = errNoPrimaryKey
			case !pkSelectable(m, privs[privKey{h.auth.role, m.oid}]):
				h.err = errUnauthorized
			}
			continue
		}
		pol := pols[privKey{h.auth.role, m.oid}]
		if pol == nil || pol.never {
			continue // sees no row of the table
		}
		if len(m.pk) == 0 || !pkSelectable(m, privs[privKey{h.auth.role, m.oid}]) {
			// Rows that cannot be looked up by key are judged for roles
			// that bypass row-level security only, which get the official
			// error payloads; others receive nothing about them.
			if pol.bypass {
				h.newSeen, h.oldSeen = decided(isNew), decided(true)
				h.err = errNoPrimaryKey
				if len(m.pk) > 0 {
					h.err = errUnauthorized
				}
			}
			continue
		}
		switch {
		case pol.bypass:
			h.newSeen, h.oldSeen = decided(isNew), decided(true)
		default:
			if isNew {
				h.newSeen = c.version(h.auth, pol, p, false)
			}
			if p.ch.Kind == wal.Delete || p.oldIsWhole() {
				h.oldSeen = c.version(h.auth, pol, p, true)
			}
		}
	}
}

// eventShape says how a change is rendered for a subscriber.
type eventShape uint8

const (
	shapeNone eventShape = iota
	// shapeFull: the change as it is (old_record as the stream has it).
	shapeFull
	// shapeOldKey: an UPDATE whose old row the subscriber could not see:
	// old_record holds the primary key only.
	shapeOldKey
	// shapeMovedOut: an UPDATE that moved the row out of the subscriber's
	// sight: record holds the primary key only.
	shapeMovedOut
)

// shape is what the subscriber receives, once every verdict is resolved.
func (h *hit) shape(kind wal.Kind) eventShape {
	h.newSeen.resolve()
	h.oldSeen.resolve()
	switch kind {
	case wal.Insert:
		if h.matchNew && h.newSeen.visible {
			return shapeFull
		}
	case wal.Delete:
		if h.matchOld && h.oldSeen.visible {
			return shapeFull
		}
	case wal.Update:
		switch {
		case h.matchNew && h.newSeen.visible && h.oldSeen.visible:
			return shapeFull
		case h.matchNew && h.newSeen.visible:
			return shapeOldKey
		case h.matchOld && h.oldSeen.visible && !h.newSeen.visible:
			return shapeMovedOut
		}
	}
	return shapeNone
}

func pkSelectable(m *tableMeta, sel map[string]bool) bool {
	for _, ci := range m.pk {
		if !sel[m.columns[ci].name] {
			return false
		}
	}
	return true
}

const setClaimsSQL = `select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)`

// checkVisibility asks the database, in one round trip, which versions
// each (role, claims) group may see: one transaction in which, for each
// group, the role and claims are set as PostgREST sets them and one
// statement per table returns the visible versions.
func (d *dispatcher) checkVisibility(ctx context.Context, groups []*checkGroup) error {
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

func (d *dispatcher) checkPart(ctx context.Context, groups []*checkGroup) error {
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
		if err := d.runChecks(ctx, conn.Conn(), []*checkGroup{g}); err != nil {
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

// runChecks checks the groups' versions in one round trip: with loop
// functions (visibility_loop.go) when every table has one and the session
// may create them, else with a statement per group and table.
func (d *dispatcher) runChecks(ctx context.Context, conn *pgx.Conn, groups []*checkGroup) error {
	if !d.noLoop.Load() {
		if plan, ok := planLoop(groups); ok {
			err := d.runLoopChecks(ctx, conn, plan)
			if err == nil || (!isSQLError(err) && !isStatementTimeout(err)) {
				return err
			}
			if errors.Is(err, errLoopCreate) {
				d.noLoop.Store(true)
				d.log.Warn("row visibility: cannot create the session's check functions; checking with a statement per subscriber group", "error", err)
			}
			for _, g := range groups {
				for _, rr := range g.rels {
					clear(rr.visible)
				}
			}
			if conn.PgConn().TxStatus() != 'I' {
				if _, err := conn.Exec(ctx, "rollback"); err != nil {
					return fmt.Errorf("check row visibility: %w", err)
				}
			}
		}
	}
	return d.runGroupChecks(ctx, conn, groups)
}

// isStatementTimeout reports a statement cancelled by statement_timeout
// (or a cancel request): the loop call is one long statement, where a
// statement per group is many short ones.
func isStatementTimeout(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "57014"
}

// runGroupChecks checks with one statement per group and table, after
// setting each group's role and claims.
func (d *dispatcher) runGroupChecks(ctx context.Context, conn *pgx.Conn, groups []*checkGroup) error {
	for _, g := range groups {
		for _, rr := range g.rels {
			if !rr.keyed {
				if err := prepareAs(ctx, conn, g.auth, rr.sql); err != nil {
					return fmt.Errorf("check row visibility of %s.%s: %w", rr.meta.schema, rr.meta.name, err)
				}
			}
		}
	}
	b := &pgx.Batch{}
	b.Queue("begin")
	var order []*checkRows // nil: the statement setting role and claims
	for _, g := range groups {
		b.Queue(setClaimsSQL, g.auth.role, string(g.auth.claims))
		order = append(order, nil)
		for _, rel := range g.relOrder {
			rr := g.rels[rel]
			b.Queue(rr.sql, rr.args()...)
			order = append(order, rr)
			d.stats.checks.Add(1)
		}
	}
	b.Queue("commit")
	br := conn.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return fmt.Errorf("check row visibility: %w", err)
	}
	for _, rr := range order {
		var err error
		if rr == nil {
			if _, err = br.Exec(); err != nil {
				err = fmt.Errorf("set role and claims: %w", err)
			}
		} else {
			err = readVisible(br, rr)
		}
		if err != nil {
			br.Close()
			return fmt.Errorf("check row visibility: %w", err)
		}
	}
	if _, err := br.Exec(); err != nil {
		br.Close()
		return fmt.Errorf("check row visibility: commit: %w", err)
	}
	return br.Close()
}
