package pgexec

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// A request's statements go to PostgreSQL as one pipeline: the extended
// protocol messages of every statement and one Sync, encoded into a buffer
// the connection keeps and written with one write, then the replies read
// until ReadyForQuery: one round trip. Each query shape is parsed and
// planned once per connection (a Parse in the same pipeline the first time
// its text is seen); afterwards it is only bound and executed. Parameters
// and results travel in PostgreSQL's text format, which is what the server
// would receive from pgx for the strings the SQL generator binds anyway,
// and the column order of every statement is known, so no Describe is
// needed. Going below pgx's Batch (and pgconn's Pipeline) saves their
// per-parameter type planning, bookkeeping and buffer churn, a large share
// of a short request's CPU time.
//
// PostgreSQL sends nothing before the Sync but a few short replies (it
// flushes its output at the Sync or when 8 kB are pending), so writing a
// whole pipeline before reading, even with a large body, cannot deadlock.

// maxStatements bounds the statements prepared on one connection; the
// least recently used is closed beyond it.
var maxStatements = 256

// statementPrefix names this package's prepared statements, so that they
// never collide with pgx's own ("stmtcache_…").
const statementPrefix = "sfp_rest_"

// statementsKey is where a connection's statements live in its CustomData.
const statementsKey = "github.com/sfp-dev/sfp/pkg/server/rest/pgexec.statements"

// statements is one connection's prepared statements, keyed by SQL text.
// A connection serves one request at a time, so it needs no lock.
type statements struct {
	m       map[string]*stmt
	seq     uint64   // for names
	tick    uint64   // LRU clock: one tick per pipeline
	closing []string // evicted, to close in the next pipeline
	buf     []byte   // the last pipeline's messages, reused
}

type stmt struct {
	name     string
	sql      string
	prepared bool // Parse succeeded
	parsing  bool // a Parse is on its way (pipelines in flight)
	used     uint64
}

// maxKeptBuffer is the largest message buffer a connection keeps between
// requests (a large body's is dropped).
const maxKeptBuffer = 64 << 10

func connStatements(pc *pgconn.PgConn) *statements {
	d := pc.CustomData()
	if s, ok := d[statementsKey].(*statements); ok {
		return s
	}
	s := &statements{m: make(map[string]*stmt)}
	d[statementsKey] = s
	return s
}

// get returns the statement for sql, creating (unprepared) when absent and
// evicting the least recently used one beyond maxStatements (never one
// used by the pipeline being built).
func (s *statements) get(sql string) *stmt {
	st := s.m[sql]
	if st == nil {
		if len(s.m) >= maxStatements {
			s.evict()
		}
		s.seq++
		sql = strings.Clone(sql) // the caller's text may live in a reused buffer
		st = &stmt{name: statementPrefix + strconv.FormatUint(s.seq, 36), sql: sql}
		s.m[sql] = st
	}
	st.used = s.tick
	return st
}

func (s *statements) evict() {
	var victim *stmt
	for _, st := range s.m {
		if st.used < s.tick && (victim == nil || st.used < victim.used) {
			victim = st
		}
	}
	if victim == nil {
		return
	}
	delete(s.m, victim.sql)
	if victim.prepared || victim.parsing {
		// Closing a statement whose Parse then fails is no error.
		s.closing = append(s.closing, victim.name)
	}
}

// forget drops every statement, after the server lost them (DISCARD ALL
// or DEALLOCATE ALL run by someone else on the connection).
func (s *statements) forget() {
	clear(s.m)
	s.closing = s.closing[:0]
}

// pipeline is one request's statements.
type pipeline struct {
	queries  []pipelineQuery
	steps    []step
	stepBuf  [12]step
	queryBuf [4]pipelineQuery
}

// pipelines are reused from request to request: each is several hundred
// bytes (its step and query arrays) that every read would otherwise
// allocate.
var pipelines = sync.Pool{New: func() any { return new(pipeline) }}

// release returns p for reuse once its replies are read; it keeps no
// statement, parameter or callback of this request.
func (p *pipeline) release() {
	*p = pipeline{}
	pipelines.Put(p)
}

type pipelineQuery struct {
	sql    string
	params [][]byte
	row    func(values [][]byte) error // called for each row while values are valid
}

// add queues a statement; row (may be nil) receives its rows.
func (p *pipeline) add(sql string, params [][]byte, row func(values [][]byte) error) {
	p.queries = append(p.queries, pipelineQuery{sql: sql, params: params, row: row})
}

type stepKind uint8

const (
	stepClose stepKind = iota
	stepPrepare
	stepPrepareUnnamed // a Parse of the unnamed statement, used once
	stepQuery
)

type step struct {
	kind stepKind
	st   *stmt
	q    int
	name string
}

// run sends the statements as one pipeline ending in one Sync and reads
// every reply. It returns the first error; statements after it were not
// executed (PostgreSQL skips to the Sync).
func (p *pipeline) run(ctx context.Context, pc *pgconn.PgConn) error {
	stmts := connStatements(pc)
	buf, err := p.encode(stmts, stmts.buf[:0])
	if err != nil {
		return err
	}
	stmts.keep(buf)
	if _, err := pc.Conn().Write(buf); err != nil {
		p.unwind(stmts, 0)
		closeBroken(pc)
		return fmt.Errorf("write pipeline: %w", err)
	}
	return p.receive(ctx, pc, stmts, nil)
}

// keep holds on to buf for the connection's next pipeline (a large
// body's is dropped).
func (s *statements) keep(buf []byte) {
	if cap(buf) <= maxKeptBuffer {
		s.buf = buf[:0]
	} else {
		s.buf = nil
	}
}

// encode appends the pipeline's messages to dst and records its steps.
func (p *pipeline) encode(stmts *statements, dst []byte) ([]byte, error) {
	stmts.tick++
	p.steps = p.stepBuf[:0]
	var stBuf [4]*stmt
	sts := stBuf[:0]
	for _, q := range p.queries { // may evict, so before the closes
		sts = append(sts, stmts.get(q.sql))
	}
	buf := dst
	var err error
	// Evicted statements are closed first: nothing before them can fail
	// and make the server skip them.
	for _, name := range stmts.closing {
		buf, err = (&pgproto3.Close{ObjectType: 'S', Name: name}).Encode(buf)
		if err != nil {
			return nil, fmt.Errorf("encode close: %w", err)
		}
		p.steps = append(p.steps, step{kind: stepClose, name: name})
	}
	stmts.closing = stmts.closing[:0]
	for i, q := range p.queries {
		st := sts[i]
		name := st.name
		switch {
		case st.prepared:
		case st.parsing:
			// An earlier pipeline still in flight on this connection
			// prepares it (shared read connections): this one cannot
			// know whether that Parse will succeed, so it parses the
			// text as the unnamed statement.
			name = ""
			if buf, err = (&pgproto3.Parse{Query: q.sql}).Encode(buf); err != nil {
				return nil, fmt.Errorf("encode parse: %w", err)
			}
			p.steps = append(p.steps, step{kind: stepPrepareUnnamed})
		default:
			if buf, err = (&pgproto3.Parse{Name: st.name, Query: q.sql}).Encode(buf); err != nil {
				return nil, fmt.Errorf("encode parse: %w", err)
			}
			st.parsing = true
			p.steps = append(p.steps, step{kind: stepPrepare, st: st})
		}
		if buf, err = (&pgproto3.Bind{PreparedStatement: name, Parameters: q.params}).Encode(buf); err != nil {
			return nil, fmt.Errorf("encode bind: %w", err)
		}
		if buf, err = (&pgproto3.Execute{}).Encode(buf); err != nil {
			return nil, fmt.Errorf("encode execute: %w", err)
		}
		p.steps = append(p.steps, step{kind: stepQuery, st: st, q: i})
	}
	if buf, err = (&pgproto3.Sync{}).Encode(buf); err != nil {
		return nil, fmt.Errorf("encode sync: %w", err)
	}
	return buf, nil
}

// receive reads the pipeline's replies, up to its ReadyForQuery. mu, when
// not nil, guards the statement bookkeeping (a connection shared by
// concurrent pipelines). A context that cannot be cancelled needs no
// watching.
func (p *pipeline) receive(ctx context.Context, pc *pgconn.PgConn, stmts *statements, mu sync.Locker) error {
	if ctx.Done() == nil {
		ctx = context.Background()
	}
	unwind := func(done int) {
		if mu != nil {
			mu.Lock()
			defer mu.Unlock()
		}
		p.unwind(stmts, done)
	}
	steps := p.steps
	// Replies: per step in order, until ReadyForQuery. After an error the
	// server skips to the Sync, so the steps from the failed one on did
	// not happen.
	done := 0 // steps completed
	var firstErr error
	failed := false
	for {
		msg, err := pc.ReceiveMessage(ctx)
		if err != nil {
			unwind(done)
			if failed {
				// A FATAL error (the backend terminated) is followed by the
				// end of the connection: the error says more than EOF.
				return firstErr
			}
			return err // the connection is closed by pgconn
		}
		switch m := msg.(type) {
		case *pgproto3.ReadyForQuery:
			if failed {
				unwind(done)
			} else if done != len(steps) {
				firstErr = fmt.Errorf("pipeline: %d of %d steps answered", done, len(steps))
			}
			return firstErr
		case *pgproto3.ErrorResponse:
			failed = true
			if firstErr == nil {
				firstErr = pgconn.ErrorResponseToPgError(m)
			}
		case *pgproto3.CloseComplete, *pgproto3.ParseComplete, *pgproto3.BindComplete,
			*pgproto3.DataRow, *pgproto3.CommandComplete, *pgproto3.EmptyQueryResponse:
			if failed || done >= len(steps) {
				closeBroken(pc)
				return fmt.Errorf("pipeline: unexpected %T", msg)
			}
			s := &steps[done]
			switch m := msg.(type) {
			case *pgproto3.CloseComplete:
				if s.kind != stepClose {
					closeBroken(pc)
					return fmt.Errorf("pipeline: unexpected CloseComplete")
				}
				done++
			case *pgproto3.ParseComplete:
				switch s.kind {
				case stepPrepare:
					if mu != nil {
						mu.Lock()
					}
					s.st.prepared, s.st.parsing = true, false
					if mu != nil {
						mu.Unlock()
					}
				case stepPrepareUnnamed:
				default:
					closeBroken(pc)
					return fmt.Errorf("pipeline: unexpected ParseComplete")
				}
				done++
			case *pgproto3.BindComplete:
				if s.kind != stepQuery {
					closeBroken(pc)
					return fmt.Errorf("pipeline: unexpected BindComplete")
				}
			case *pgproto3.DataRow:
				if s.kind != stepQuery {
					closeBroken(pc)
					return fmt.Errorf("pipeline: unexpected DataRow")
				}
				if row := p.queries[s.q].row; row != nil && firstErr == nil {
					firstErr = row(m.Values)
				}
			default: // CommandComplete, EmptyQueryResponse
				if s.kind != stepQuery {
					closeBroken(pc)
					return fmt.Errorf("pipeline: unexpected %T", msg)
				}
				done++
			}
		case *pgproto3.NoticeResponse, *pgproto3.ParameterStatus, *pgproto3.NotificationResponse:
			// Handled by pgconn (callbacks, parameter statuses).
		default:
			closeBroken(pc)
			return fmt.Errorf("pipeline: unexpected %T", msg)
		}
	}
}

// unwind undoes the bookkeeping of the steps from the first not done:
// their statements were not prepared, their closes not executed.
func (p *pipeline) unwind(stmts *statements, done int) {
	for _, s := range p.steps[done:] {
		switch {
		case s.kind == stepPrepare && !s.st.prepared:
			s.st.parsing = false
			if stmts.m[s.st.sql] == s.st {
				delete(stmts.m, s.st.sql)
			}
		case s.kind == stepClose:
			stmts.closing = append(stmts.closing, s.name)
		}
	}
}

// closeBroken closes a connection whose protocol state is unknown, so the
// pool discards it.
func closeBroken(pc *pgconn.PgConn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = pc.Close(ctx)
}

// isLostStatement reports whether err says one of this package's prepared
// statements is gone from the server.
func isLostStatement(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "26000" && strings.Contains(pe.Message, statementPrefix)
}
