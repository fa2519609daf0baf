package realtimeserver

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// A WebSocket library writes and flushes each message on its own: one
// write system call per frame. Under fan-out load that is most of the
// server's CPU (half of it in the 500-subscriber benchmark's profile), and
// as many wake-ups for the reader at the other end. The connection's
// writer takes every frame queued for it at once (sendQueue.take), so the
// socket is corked while it writes them: the frames gather in a buffer and
// go out in one write when the batch ends (or every corkFlushBytes). A
// frame still reaches the client as soon as the batch it came with is
// written; an idle connection holds no buffer.

// corkFlushBytes bounds the bytes a corked connection gathers before it
// writes them.
const corkFlushBytes = 64 << 10

// corkBufs holds the buffers of connections writing a batch: they start
// small (most batches are a few frames) and grow up to corkFlushBytes.
var corkBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// corkConn is a net.Conn whose writes are gathered while it is corked.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    *[]byte
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return c.Conn.Write(p)
	}
	if c.buf == nil {
		c.buf = corkBufs.Get().(*[]byte)
	}
	*c.buf = append(*c.buf, p...)
	if len(*c.buf) >= corkFlushBytes {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// cork starts gathering writes.
func (c *corkConn) cork() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// uncork writes what was gathered and stops gathering.
func (c *corkConn) uncork() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	err := c.flushLocked()
	if c.buf != nil {
		if cap(*c.buf) <= 2*corkFlushBytes {
			*c.buf = (*c.buf)[:0]
			corkBufs.Put(c.buf)
		}
		c.buf = nil
	}
	return err
}

// flushLocked writes the gathered bytes within writeTimeout.
func (c *corkConn) flushLocked() error {
	if c.buf == nil || len(*c.buf) == 0 {
		return nil
	}
	_ = c.Conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := c.Conn.Write(*c.buf)
	_ = c.Conn.SetWriteDeadline(time.Time{})
	*c.buf = (*c.buf)[:0]
	return err
}

// corkWriter hands the WebSocket library a corkable connection when it
// hijacks the request's.
type corkWriter struct {
	http.ResponseWriter
	conn *corkConn
}

func (w *corkWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("http.ResponseWriter does not implement http.Hijacker")
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		nc.Close()
		return nil, nil, err
	}
	w.conn = &corkConn{Conn: nc}
	brw.Writer.Reset(w.conn)
	return w.conn, brw, nil
}
