package rest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/jackc/pgx/v5/pgconn"
)

// A request's statements go to PostgreSQL as one pipeline through pgconn:
// one write, one round trip. Each query shape is parsed and planned once
// per connection (Parse in the same pipeline the first time its text is
// seen); afterwards it is only bound and executed. Parameters and results
// travel in PostgreSQL's text format, which is what the server would
// receive from pgx for the strings the SQL generator binds anyway; going
// below pgx's Batch saves its per-parameter type planning and buffers,
// which were a large share of a short request's CPU time.

// maxStatements bounds the statements prepared on one connection; the
// least recently used is closed beyond it.
var maxStatements = 256

// statementPrefix names this package's prepared statements, so that they
// never collide with pgx's own ("stmtcache_…").
const statementPrefix = "sfp_rest_"

// statementsKey is where a connection's statements live in its CustomData.
const statementsKey = "github.com/sfp-dev/sfp/pkg/embedded/rest.statements"

// statements is one connection's prepared statements, keyed by SQL text.
// A connection serves one request at a time, so it needs no lock.
type statements struct {
	m       map[string]*stmt
	seq     uint64   // for names
	tick    uint64   // LRU clock: one tick per pipeline
	closing []string // evicted, to close in the next pipeline
}

type stmt struct {
	// sd is replaced, never modified: a pipeline under way keeps the
	// description it was sent with.
	sd       *pgconn.StatementDescription
	prepared bool // Parse succeeded
	used     uint64
}

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
		st = &stmt{sd: &pgconn.StatementDescription{Name: statementPrefix + strconv.FormatUint(s.seq, 36), SQL: sql}}
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
	delete(s.m, victim.sd.SQL)
	if victim.prepared {
		s.closing = append(s.closing, victim.sd.Name)
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
	queries []pipelineQuery
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
	stepQuery
)

type step struct {
	kind stepKind
	st   *stmt
	q    int
	name string
}

// run sends the statements as one pipeline ending in one Sync and reads
// every result. It returns the first error; statements after it were not
// executed (PostgreSQL skips to the Sync).
func (p *pipeline) run(ctx context.Context, pc *pgconn.PgConn) error {
	stmts := connStatements(pc)
	stmts.tick++
	sts := make([]*stmt, len(p.queries))
	for i, q := range p.queries {
		sts[i] = stmts.get(q.sql)
	}
	var stepBuf [12]step
	steps := stepBuf[:0]
	pl := pc.StartPipeline(ctx)
	// Evicted statements are closed first: nothing before them can fail
	// and make the server skip them.
	for _, name := range stmts.closing {
		pl.SendDeallocate(name)
		steps = append(steps, step{kind: stepClose, name: name})
	}
	stmts.closing = stmts.closing[:0]
	for i, q := range p.queries {
		st := sts[i]
		if !st.prepared {
			pl.SendPrepare(st.sd.Name, q.sql, nil)
			steps = append(steps, step{kind: stepPrepare, st: st})
		}
		pl.SendQueryStatement(st.sd, q.params, nil, nil)
		steps = append(steps, step{kind: stepQuery, st: st, q: i})
	}
	err := pl.Sync()
	done := 0
	for ; err == nil && done < len(steps); done++ {
		s := steps[done]
		var r any
		if r, err = pl.GetResults(); err != nil {
			break
		}
		switch s.kind {
		case stepPrepare:
			sd, ok := r.(*pgconn.StatementDescription)
			if !ok {
				err = fmt.Errorf("prepare: unexpected result %T", r)
				break
			}
			s.st.prepared = true
			s.st.sd = &pgconn.StatementDescription{Name: s.st.sd.Name, SQL: s.st.sd.SQL, ParamOIDs: sd.ParamOIDs, Fields: sd.Fields}
		case stepQuery:
			rr, ok := r.(*pgconn.ResultReader)
			if !ok {
				err = fmt.Errorf("query: unexpected result %T", r)
				break
			}
			row := p.queries[s.q].row
			for rr.NextRow() {
				if row != nil && err == nil {
					err = row(rr.Values())
				}
			}
			if _, cerr := rr.Close(); err == nil {
				err = cerr
			}
		}
	}
	// Statements whose Parse was not reached (or failed) do not exist.
	for _, s := range steps[done:] {
		switch {
		case s.kind == stepPrepare && !s.st.prepared:
			if stmts.m[s.st.sd.SQL] == s.st {
				delete(stmts.m, s.st.sd.SQL)
			}
		case s.kind == stepClose:
			stmts.closing = append(stmts.closing, s.name)
		}
	}
	if cerr := pl.Close(); err == nil {
		err = cerr
	}
	return err
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

// textParam is a string as a text-format parameter, without copying: the
// bytes are only read while the Bind message is encoded. An empty string
// is an empty value, never NULL (nil).
func textParam(s string) []byte {
	if s == "" {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// parseInt8 reads a bigint in text format; NULL is nil.
func parseInt8(v []byte) (*int64, error) {
	if v == nil {
		return nil, nil
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("parse bigint %q: %w", v, err)
	}
	return &n, nil
}

// parseTextArray reads a one-dimensional text[] in text format; NULL is nil.
func parseTextArray(v []byte) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	if len(v) < 2 || v[0] != '{' || v[len(v)-1] != '}' {
		return nil, fmt.Errorf("parse text[] %q: not a one-dimensional array", v)
	}
	body := v[1 : len(v)-1]
	out := []string{}
	if len(body) == 0 {
		return out, nil
	}
	for i := 0; ; {
		var elem []byte
		if i < len(body) && body[i] == '"' {
			i++
			for ; i < len(body) && body[i] != '"'; i++ {
				if body[i] == '\\' {
					i++
					if i == len(body) {
						return nil, fmt.Errorf("parse text[] %q: unterminated escape", v)
					}
				}
				elem = append(elem, body[i])
			}
			if i == len(body) {
				return nil, fmt.Errorf("parse text[] %q: unterminated quote", v)
			}
			i++
			out = append(out, string(elem))
		} else {
			j := i
			for j < len(body) && body[j] != ',' {
				j++
			}
			raw := string(body[i:j])
			if raw == "NULL" {
				return nil, fmt.Errorf("parse text[] %q: NULL element", v)
			}
			out = append(out, raw)
			i = j
		}
		if i == len(body) {
			return out, nil
		}
		if body[i] != ',' {
			return nil, fmt.Errorf("parse text[] %q: expected ','", v)
		}
		i++
	}
}
