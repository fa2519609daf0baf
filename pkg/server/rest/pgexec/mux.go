package pgexec

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Read-only requests share a few connections and send their pipelines
// back to back without waiting for the previous one's replies (PostgreSQL
// runs them in order, each in its own implicit transaction ending at its
// Sync, so nothing of one request's settings or errors reaches the next).
// A backend then finds the next request already waiting when it finishes
// one, instead of going to sleep and being woken for each: on a machine
// whose cores the API server and PostgreSQL share, that sleeping and
// waking is a large part of a short read's cost.
//
// Only reads go this way: a write's transaction needs a round trip in the
// middle (the result is checked before COMMIT), so it keeps a connection
// of its own from the pool. A read waits behind the ones written before it
// on its connection, so the depth of each connection's queue is bounded,
// a connection whose oldest read has been running for longer than
// muxStall takes no more, and when every shared connection is full a read
// takes a connection from the pool as writes do.

// muxStall is how long the oldest pipeline on a shared connection may
// have been running before new reads avoid that connection (a variable
// for tests).
var muxStall = 5 * time.Millisecond

// readMux hands out the shared read connections.
type readMux struct {
	pool  *pgxpool.Pool
	size  int   // shared connections at most
	depth int32 // pipelines in flight per connection at most

	mu      sync.Mutex
	conns   []*muxConn
	opening int
	closed  bool

	shared, retried atomic.Int64 // reads run on shared connections; run again on the pool
	writes          atomic.Int64 // write system calls that sent them
}

// muxConn is one shared connection.
type muxConn struct {
	conn *pgxpool.Conn

	// wmu orders encoding pipelines into pending and guards pending,
	// spare and flushing. smu guards the connection's statement
	// bookkeeping. Neither is held across a system call, so the reader
	// (which takes smu) never waits for a writer blocked on a full
	// socket, which could wait for that reader.
	wmu sync.Mutex
	smu sync.Mutex

	// pending holds pipelines encoded in queue order and not yet
	// written; flushing says a goroutine is writing them (flush); spare
	// is the buffer of the last write, for reuse.
	pending, spare []byte
	flushing       bool
	writes         *atomic.Int64 // the mux's count of write system calls

	qmu   sync.Mutex
	queue []*muxTurn // written, not yet read; the first one reads

	inFlight atomic.Int32
	headAt   atomic.Int64 // when the pipeline now at the head began to be answered (unix ns); 0 when idle
	dead     atomic.Bool  // broken or lost its statements: retire when drained
	retired  sync.Once
}

// errMuxDead says a shared connection broke before a pipeline could be
// answered; the read is retried on a connection of its own.
var errMuxDead = errors.New("shared read connection lost")

// muxTurn is one pipeline's place in its connection's queue.
type muxTurn struct {
	ready chan struct{} // closed when it is this pipeline's turn to read
}

func newReadMux(pool *pgxpool.Pool, size int, depth int) *readMux {
	return &readMux{pool: pool, size: size, depth: int32(depth)}
}

// acquire returns a shared connection with room for one more pipeline
// (counted in its inFlight), or nil when there is none: the caller then
// uses the pool.
func (m *readMux) acquire(ctx context.Context) *muxConn {
	now := time.Now().UnixNano()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	var best *muxConn
	bestN := int32(0)
	for _, c := range m.conns {
		if c.dead.Load() {
			continue
		}
		n := c.inFlight.Load()
		if n >= m.depth {
			continue
		}
		if n > 0 {
			if at := c.headAt.Load(); at != 0 && now-at > int64(muxStall) {
				continue
			}
		}
		if best == nil || n < bestN {
			best, bestN = c, n
		}
	}
	if (best == nil || bestN > 0) && len(m.conns)+m.opening < m.size {
		// Open another shared connection rather than queue behind one.
		m.opening++
		m.mu.Unlock()
		pc, err := m.pool.Acquire(ctx)
		m.mu.Lock()
		m.opening--
		switch {
		case err == nil && m.closed:
			pc.Release()
			best = nil
		case err == nil:
			best = &muxConn{conn: pc, writes: &m.writes}
			m.conns = append(m.conns, best)
		case best != nil && (best.dead.Load() || !slices.Contains(m.conns, best)):
			// No new connection (the database may be restarting), and
			// the one chosen before died while the lock was let go —
			// perhaps retired already: the pool serves this read.
			best = nil
		}
	}
	if best != nil {
		best.inFlight.Add(1)
	}
	m.mu.Unlock()
	return best
}

// done ends one pipeline on c; a dead connection leaves the mux (and goes
// back to the pool closed, which drops it) once drained.
func (m *readMux) done(c *muxConn) {
	if c.inFlight.Add(-1) != 0 || !c.dead.Load() {
		return
	}
	m.mu.Lock()
	if c.inFlight.Load() != 0 {
		// A read took the connection between the decrement and the lock:
		// acquire saw it alive just before it died and counts under m.mu.
		// It finds the connection dead in run, and its done retires it;
		// retiring it now would pull the connection from under it.
		m.mu.Unlock()
		return
	}
	for i, x := range m.conns {
		if x == c {
			m.conns = append(m.conns[:i], m.conns[i+1:]...)
			break
		}
	}
	m.mu.Unlock()
	c.retire()
}

// retire closes the connection and gives it back to the pool: its
// statement bookkeeping may no longer match the server's.
func (c *muxConn) retire() {
	c.retired.Do(func() {
		closeBroken(c.conn.Conn().PgConn())
		c.conn.Release()
	})
}

// close retires every shared connection; reads in flight finish first.
func (m *readMux) close() {
	m.mu.Lock()
	m.closed = true
	conns := m.conns
	m.conns = nil
	m.mu.Unlock()
	for _, c := range conns {
		c.dead.Store(true)
		if c.inFlight.Load() == 0 {
			c.retire()
		}
	}
}

// run sends p on c and reads its replies when its turn comes. No request's
// context may interrupt a shared connection (pgconn would set deadlines on
// the socket that other reads use), so there is none: the statement
// timeout bounds every read.
//
// Pipelines are written in batches: p is encoded after the ones already
// pending, and when no write is under way this goroutine writes them all
// with one system call (flush); otherwise the write under way takes p
// along after it. On loopback TCP a write costs several microseconds in
// the kernel, and PostgreSQL's read of it too, so reads arriving together
// share them.
func (c *muxConn) run(p *pipeline) error {
	pc := c.conn.Conn().PgConn()
	turn := &muxTurn{ready: make(chan struct{})}

	c.wmu.Lock()
	if c.dead.Load() {
		c.wmu.Unlock()
		return errMuxDead
	}
	c.smu.Lock()
	stmts := connStatements(pc)
	buf, err := p.encode(stmts, c.pending)
	c.smu.Unlock()
	if err != nil {
		c.wmu.Unlock() // c.pending is as it was
		return err
	}
	c.pending = buf
	c.qmu.Lock()
	c.queue = append(c.queue, turn)
	head := len(c.queue) == 1
	if head {
		c.headAt.Store(time.Now().UnixNano())
	}
	c.qmu.Unlock()
	flush := !c.flushing
	c.flushing = true
	c.wmu.Unlock()
	if flush {
		c.flush(pc, true)
	}

	if !head {
		<-turn.ready
	}
	if pc.IsClosed() {
		err = errMuxDead
	} else {
		err = p.receive(context.Background(), pc, stmts, &c.smu)
		var pe *pgconn.PgError
		switch {
		case err == nil:
		case isLostStatement(err):
			c.dead.Store(true)
		case pc.IsClosed():
			c.dead.Store(true)
			if !errors.As(err, &pe) {
				// The connection ended before answering this read (an
				// earlier one's backend died, or a write failed): run
				// it again.
				err = fmt.Errorf("%w: %w", errMuxDead, err)
			}
		}
	}

	c.qmu.Lock()
	c.queue = c.queue[1:]
	if len(c.queue) > 0 {
		c.headAt.Store(time.Now().UnixNano())
		close(c.queue[0].ready)
	} else {
		c.headAt.Store(0)
		c.queue = nil
	}
	c.qmu.Unlock()
	return err
}

// flush writes the pending pipelines until none is left, then lets the
// next run write. Called by a request's goroutine (inline), it writes one
// batch, the one holding its own pipeline; if more arrived meanwhile it
// hands them to a goroutine of their own rather than keep writing: it may
// be the one that must read next, and PostgreSQL stops reading once its
// answers to a reader that does not read fill the socket.
//
// A failed write ends the connection: the pipelines written with it, or
// pending, are answered by no one, so their reads find it closed and run
// again on the pool (run).
func (c *muxConn) flush(pc *pgconn.PgConn, inline bool) {
	c.wmu.Lock()
	for len(c.pending) > 0 {
		buf := c.pending
		c.pending, c.spare = c.spare[:0], nil
		c.wmu.Unlock()
		_, werr := pc.Conn().Write(buf)
		c.writes.Add(1)
		c.wmu.Lock()
		if cap(buf) <= maxKeptBuffer {
			c.spare = buf[:0]
		}
		if werr != nil {
			// Closing the socket (safe while another goroutine reads it)
			// ends every pipeline on it.
			c.dead.Store(true)
			_ = pc.Conn().Close()
			c.pending = c.pending[:0]
			break
		}
		if inline && len(c.pending) > 0 {
			c.wmu.Unlock()
			go c.flush(pc, false) // flushing stays set: it carries on
			return
		}
	}
	c.flushing = false
	c.wmu.Unlock()
}
