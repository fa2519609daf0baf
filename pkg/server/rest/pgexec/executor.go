// Package pgexec runs the REST server's transactions on PostgreSQL at the
// wire level: each transaction's statements encoded as one pipeline of
// extended-protocol messages (pipeline.go), statements prepared once per
// connection and query shape, and read-only transactions sharing a few
// connections (mux.go).
//
// It is the REST server's hot path and knows nothing about HTTP or
// PostgREST: the caller hands it SQL text and text-format parameters (a
// Spec) and gets the one row its statement returns (a Result). Keeping the
// protocol work behind that one call lets the HTTP side read as request,
// plan, SQL and response, and lets this side be measured and tested on its
// own.
package pgexec

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Statement is SQL text with its parameters in PostgreSQL's text format
// (nil is NULL). The text identifies the prepared statement: requests of
// the same shape must produce the same text. Neither is retained after
// Execute returns, so both may live in reused buffers.
type Statement struct {
	SQL    string
	Params [][]byte
}

// Spec is one transaction.
type Spec struct {
	// Setup sets the transaction's context (set_config calls); its rows
	// are ignored. A read-only Spec runs without BEGIN, so its Setup must
	// make the transaction read-only itself
	// (set_config('transaction_read_only', 'on', true)).
	Setup Statement
	// PreRequest, when set, runs after Setup: PostgREST's db-pre-request
	// function; its rows are ignored.
	PreRequest *Statement
	// CountPlan, when set, runs after Setup and before Main: PostgREST's
	// EXPLAIN of the count for count=planned/estimated. The first column
	// of its first row is Result.CountPlan.
	CountPlan *Statement
	// Main must return exactly one row, Result.Row.
	Main Statement
	// ReadOnly runs the statements as one pipeline in one implicit
	// transaction (one round trip, nothing to commit), possibly on a
	// connection shared with other reads, and possibly again on a
	// connection of its own when the shared one breaks before answering.
	// Otherwise the statements run after BEGIN on a connection of their
	// own, and COMMIT (or ROLLBACK) follows the Check.
	ReadOnly bool
	// Rollback ends a write with ROLLBACK instead of COMMIT.
	Rollback bool
	// Check, when set, inspects the result before a write commits (and a
	// read's result before it is returned); its error rolls the write back
	// and is what Execute returns.
	Check func(*Result) error
}

// Result is what a transaction's Main statement returned.
type Result struct {
	// Row holds Main's values in text format, nil for NULL.
	Row [][]byte
	// CountPlan is the first column of CountPlan's first row; nil without
	// a CountPlan.
	CountPlan []byte
	rowBuf    [8][]byte
}

// Options configure an Executor.
type Options struct {
	// SharedConns is how many of the pool's connections read-only
	// transactions share (taken from the pool when first needed and kept
	// until Close); 0 turns sharing off.
	SharedConns int
	// SharedDepth is how many reads may be in flight on one shared
	// connection.
	SharedDepth int
}

// Executor runs transactions on a pool's connections. It is safe for
// concurrent use.
type Executor struct {
	pool  *pgxpool.Pool
	mux   *readMux // nil when reads do not share connections
	tally tally    // transactions run and failed (stats.go)
}

// New returns an Executor on pool. The pool stays the caller's; Close
// gives the shared connections back to it.
func New(pool *pgxpool.Pool, opts Options) *Executor {
	e := &Executor{pool: pool}
	if opts.SharedConns > 0 {
		e.mux = newReadMux(pool, opts.SharedConns, opts.SharedDepth)
	}
	return e
}

// Close gives the shared read connections back to the pool once the
// reads in flight on them are answered.
func (e *Executor) Close() {
	if e.mux != nil {
		e.mux.close()
	}
}

// Stats counts reads since New.
type Stats struct {
	// SharedReads ran on a shared connection.
	SharedReads int64
	// RetriedReads were sent on a shared connection that broke (or lost
	// its prepared statements) before answering, and ran again on a
	// connection of their own.
	RetriedReads int64
	// SharedWrites counts the write system calls that sent the shared
	// reads: fewer than the reads when reads arriving together share one.
	SharedWrites int64
}

// Stats returns the counters of shared reads.
func (e *Executor) Stats() Stats {
	if e.mux == nil {
		return Stats{}
	}
	return Stats{SharedReads: e.mux.shared.Load(), RetriedReads: e.mux.retried.Load(), SharedWrites: e.mux.writes.Load()}
}

const beginRW = "begin isolation level read committed"

// Execute runs spec's transaction and returns Main's row. Errors are
// PostgreSQL's (*pgconn.PgError), the connection's, or Check's.
//
// A read goes on a shared connection when one has room (mux.go); a write
// is BEGIN, Setup, CountPlan and Main in one pipeline, then COMMIT or
// ROLLBACK once the result is checked.
func (e *Executor) Execute(ctx context.Context, spec Spec) (*Result, error) {
	res, err := e.execute(ctx, spec)
	e.count(spec.ReadOnly, err)
	return res, err
}

func (e *Executor) execute(ctx context.Context, spec Spec) (*Result, error) {
	if spec.ReadOnly && e.mux != nil {
		if mc := e.mux.acquire(ctx); mc != nil {
			res, err := sendShared(mc, spec)
			e.mux.done(mc)
			if err == nil {
				e.mux.shared.Add(1)
				return checked(res, spec)
			}
			if !errors.Is(err, errMuxDead) && !isLostStatement(err) {
				return nil, err
			}
			e.mux.retried.Add(1)
			// The shared connection broke or lost its statements before
			// answering: a read is safe to run again on a connection of
			// its own.
		}
	}
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if conn.Conn().PgConn().TxStatus() != 'I' && !conn.Conn().IsClosed() {
			_, _ = conn.Exec(context.Background(), "rollback")
		}
		conn.Release()
	}()
	pc := conn.Conn().PgConn()
	res, err := send(ctx, pc, spec)
	if isLostStatement(err) && !conn.Conn().IsClosed() {
		// Someone else discarded this connection's prepared statements
		// (nothing ran: the statement could not be bound). Prepare anew.
		connStatements(pc).forget()
		if pc.TxStatus() != 'I' {
			_, _ = conn.Exec(ctx, "rollback")
		}
		res, err = send(ctx, pc, spec)
	}
	if err != nil {
		return nil, err
	}
	if spec.ReadOnly {
		return checked(res, spec)
	}
	if _, err := checked(res, spec); err != nil {
		return nil, err // a write rolls back in the deferred function
	}
	end := "commit"
	if spec.Rollback {
		end = "rollback"
	}
	if _, err := conn.Exec(ctx, end); err != nil {
		return nil, err
	}
	return res, nil
}

// checked applies the spec's check to a result.
func checked(res *Result, spec Spec) (*Result, error) {
	if spec.Check != nil {
		if err := spec.Check(res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// sendShared runs a read's pipeline on a shared connection.
func sendShared(mc *muxConn, spec Spec) (*Result, error) {
	p, res, rows := newPipeline(spec)
	defer p.release()
	if err := mc.run(p); err != nil {
		return nil, err
	}
	if *rows != 1 {
		return nil, fmt.Errorf("statement returned %d rows, want 1", *rows)
	}
	return res, nil
}

// send runs the transaction's pipeline on a connection of its own and
// reads Main's row.
func send(ctx context.Context, pc *pgconn.PgConn, spec Spec) (*Result, error) {
	p, res, rows := newPipeline(spec)
	defer p.release()
	if err := p.run(ctx, pc); err != nil {
		return nil, err
	}
	if *rows != 1 {
		return nil, fmt.Errorf("statement returned %d rows, want 1", *rows)
	}
	return res, nil
}

// newPipeline queues the transaction's statements: BEGIN for a write,
// the setup, the count plan when asked for, the main statement.
func newPipeline(spec Spec) (*pipeline, *Result, *int) {
	p := pipelines.Get().(*pipeline)
	p.queries = p.queryBuf[:0]
	if !spec.ReadOnly {
		p.add(beginRW, nil, nil)
	}
	p.add(spec.Setup.SQL, spec.Setup.Params, nil)
	if spec.PreRequest != nil {
		p.add(spec.PreRequest.SQL, spec.PreRequest.Params, nil)
	}
	res := &Result{}
	if spec.CountPlan != nil {
		p.add(spec.CountPlan.SQL, spec.CountPlan.Params, func(v [][]byte) error {
			if res.CountPlan == nil && len(v) > 0 && v[0] != nil {
				res.CountPlan = append([]byte{}, v[0]...)
			}
			return nil
		})
	}
	rows := new(int)
	p.add(spec.Main.SQL, spec.Main.Params, func(v [][]byte) error {
		*rows++
		res.setRow(v)
		return nil
	})
	return p, res, rows
}

// setRow copies a row's values (valid only during the callback) into one
// allocation.
func (res *Result) setRow(v [][]byte) {
	n := 0
	for _, x := range v {
		n += len(x)
	}
	buf := make([]byte, 0, n)
	if len(v) <= len(res.rowBuf) {
		res.Row = res.rowBuf[:len(v)]
	} else {
		res.Row = make([][]byte, len(v))
	}
	for i, x := range v {
		if x == nil {
			res.Row[i] = nil
			continue
		}
		start := len(buf)
		buf = append(buf, x...)
		res.Row[i] = buf[start:len(buf):len(buf)]
	}
}
