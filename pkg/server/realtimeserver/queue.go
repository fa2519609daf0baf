package realtimeserver

import (
	"sync"

	"github.com/coder/websocket"
)

// sendQueue holds a connection's frames waiting for its writer. It is
// bounded (ClientQueueSize) but grows only as frames arrive: a buffered Go
// channel of that size would allocate its whole capacity up front, 320 kB
// per connection at the default bound, for every idle socket. Here an idle
// connection holds two empty slices.
//
// Producers (the dispatcher, other clients' broadcasts, the connection's
// own replies) append under a mutex and never wait; the writer takes
// everything queued at once and writes it outside the lock.
type sendQueue struct {
	max   int
	ready chan struct{} // one pending wake-up for the writer

	mu       sync.Mutex
	frames   []outFrame
	inFlight int // frames taken by the writer and not yet written
}

// keepCap is the largest batch buffer a connection keeps between bursts;
// larger ones go back to the garbage collector once written.
const keepCap = 64

func newSendQueue(max int) *sendQueue {
	return &sendQueue{max: max, ready: make(chan struct{}, 1)}
}

// push queues f; it reports false when max frames are already waiting.
func (q *sendQueue) push(f outFrame) bool {
	q.mu.Lock()
	if len(q.frames)+q.inFlight >= q.max {
		q.mu.Unlock()
		return false
	}
	q.frames = append(q.frames, f)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// take hands the writer every queued frame, swapping in spare (the batch
// it has finished writing) as the new queue, so steady traffic allocates
// nothing.
func (q *sendQueue) take(spare []outFrame) []outFrame {
	clear(spare) // drop references to written frames
	if cap(spare) > keepCap {
		spare = nil
	}
	q.mu.Lock()
	batch := q.frames
	q.frames = spare[:0]
	q.inFlight = len(batch)
	q.mu.Unlock()
	return batch
}

// written tells the queue the writer's batch is out.
func (q *sendQueue) written() {
	q.mu.Lock()
	q.inFlight = 0
	q.mu.Unlock()
}

// closeFrame asks the writer to close the connection once the frames
// queued before it are written (a reply the client must see first).
type closeFrame struct {
	code   websocket.StatusCode
	reason string
}
