package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ResourceType names what Watch can follow.
type ResourceType string

// The resource types Watch follows, each a table in publication
// supabase_realtime.
const (
	ResourceTask       ResourceType = "task"       // task_executions
	ResourceDeployment ResourceType = "deployment" // deployments
	ResourceBuild      ResourceType = "build"      // builds
	ResourceTicket     ResourceType = "ticket"     // environment_allocations
)

func (r ResourceType) table() (string, error) {
	switch r {
	case ResourceTask:
		return "task_executions", nil
	case ResourceDeployment:
		return "deployments", nil
	case ResourceBuild:
		return "builds", nil
	case ResourceTicket:
		return "environment_allocations", nil
	}
	return "", fmt.Errorf("cannot watch resource type %q (use task, deployment, build or ticket): %w", r, ErrValidation)
}

// Update is a state of a watched resource: the row after a change, or the
// row as it was when the watch started (Event "snapshot"). Exactly one of
// Task, Deployment, Build and Lease is set, matching the resource type;
// Status, Progress and Message repeat its fields for generic consumers.
type Update struct {
	ResourceType ResourceType `json:"resource_type"`
	ID           string       `json:"id"`
	// Event: snapshot, INSERT, UPDATE or DELETE.
	Event    string `json:"event"`
	Status   string `json:"status"`
	Progress int    `json:"progress"`
	Message  string `json:"message,omitempty"`
	// Final: the resource reached a final state (succeeded, failed,
	// cancelled; for tickets also released and expired; or it was
	// deleted). The watch ends after a final update.
	Final bool `json:"final"`
	// Time is when the change was committed (or read, for a snapshot).
	Time time.Time `json:"time"`

	Task       *Task       `json:"task,omitempty"`
	Deployment *Deployment `json:"deployment,omitempty"`
	Build      *Build      `json:"build,omitempty"`
	Lease      *Lease      `json:"lease,omitempty"`

	updatedAt time.Time
}

// Watch is a stream of updates of one resource. Read Updates until it is
// closed, then Err says why it ended (nil after a final update or Close).
type Watch struct {
	updates chan Update
	cancel  context.CancelFunc
	done    chan struct{}
	mode    string

	mu     sync.Mutex
	err    error
	closed bool
}

// Updates delivers the resource's states in order, starting with a
// snapshot of the current state. It is closed when the watch ends.
func (w *Watch) Updates() <-chan Update { return w.updates }

// Err returns why the watch ended: nil after a final state or Close, the
// context's error when it was cancelled, or the error that stopped it.
func (w *Watch) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Mode tells how updates arrive: "broadcast" (pushed on the resource's
// private Realtime topic, task:<id> or deployment:<id>, which the tenant
// schema broadcasts from the database), "realtime" (postgres_changes over
// the Realtime WebSocket, when the server or the schema has no such topic)
// or "poll" (read over REST at an interval, when the server has no
// realtime service).
func (w *Watch) Mode() string { return w.mode }

// Close stops the watch and waits for its goroutine to end.
func (w *Watch) Close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.cancel()
	<-w.done
	return nil
}

func (w *Watch) setErr(err error) {
	w.mu.Lock()
	if w.err == nil && !w.closed {
		w.err = err
	}
	w.mu.Unlock()
}

// WatchOption configures Watch.
type WatchOption func(*watchConfig)

type watchConfig struct {
	poll      time.Duration
	forcePoll bool
}

// watchConfig applies opts over the client's poll interval (one second
// where that is not positive), the same for every kind of watch.
func (c *Client) watchConfig(opts []WatchOption) watchConfig {
	cfg := watchConfig{poll: c.opts.watchPoll}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.poll <= 0 {
		cfg.poll = time.Second
	}
	return cfg
}

// WatchPoll makes the watch poll over REST at interval d instead of
// subscribing to Realtime.
func WatchPoll(d time.Duration) WatchOption {
	return func(c *watchConfig) { c.poll, c.forcePoll = d, true }
}

// Watch follows one resource by type and id and streams its states: first
// the current one, then every change, until it reaches a final state, ctx
// ends or the watch is closed. Changes come from Realtime: for tasks and
// deployments the resource's private topic (Broadcast from Database,
// authorised once at join by the account membership policy), else
// postgres_changes on the resource's table, filtered by id, under the
// caller's row-level security; if the server offers no realtime service,
// the watch polls over REST instead.
func (c *Client) Watch(ctx context.Context, rt ResourceType, id string, opts ...WatchOption) (*Watch, error) {
	table, err := rt.table()
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	if err := validUUID(string(rt)+" id", id); err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	cfg := c.watchConfig(opts)
	// The first snapshot also proves the resource exists and is visible.
	snap, err := c.snapshot(ctx, rt, table, id)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", rt, err)
	}
	wctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.ctx, cancel)
	w := &Watch{updates: make(chan Update, 16), cancel: cancel, done: make(chan struct{})}
	src, mode := c.watchSource(wctx, rt, table, id, cfg)
	w.mode = mode
	err = c.spawn(func() {
		defer close(w.done)
		defer close(w.updates)
		defer stop()
		defer cancel()
		if err := w.run(wctx, c, rt, table, id, snap, src, cfg); err != nil {
			w.setErr(err)
		}
	})
	if err != nil {
		src.close()
		stop()
		cancel()
		return nil, fmt.Errorf("watch %s: %w", rt, err)
	}
	return w, nil
}

// watchSource is where change notifications come from. next blocks until
// the resource may have changed and returns the changed row when the
// source carries it (nil: read it again). close releases the source.
type watchSource interface {
	next(ctx context.Context) (*Update, error)
	close()
}

// pollSource wakes up at an interval.
type pollSource struct{ every time.Duration }

func (p pollSource) next(ctx context.Context) (*Update, error) {
	t := time.NewTimer(p.every)
	defer t.Stop()
	select {
	case <-t.C:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (pollSource) close() {}

// watchSource picks, in order: the resource's private Broadcast topic
// (task:<id>, deployment:<id>; see openBroadcastSource), postgres_changes
// on its table (openRealtimeSource), polling.
func (c *Client) watchSource(ctx context.Context, rt ResourceType, table, id string, cfg watchConfig) (watchSource, string) {
	if topic := rt.topic(id); !cfg.forcePoll && topic != "" && newBroadcastSource != nil {
		src, err := newBroadcastSource(ctx, c, rt, topic)
		if err == nil {
			return src, "broadcast"
		}
		c.opts.logger.Debug("watch: private topic unavailable, trying postgres_changes", "topic", topic, "err", err)
	}
	if !cfg.forcePoll && newRealtimeSource != nil {
		src, err := newRealtimeSource(ctx, c, rt, table, "id=eq."+id)
		if err == nil {
			return src, "realtime"
		}
		c.opts.logger.Debug("watch: realtime unavailable, polling", "err", err)
	}
	return pollSource{every: cfg.poll}, "poll"
}

// topic is the private Realtime topic the tenant schema broadcasts the
// resource's changes on, "" when it has none.
func (r ResourceType) topic(id string) string {
	switch r {
	case ResourceTask, ResourceDeployment:
		return string(r) + ":" + id
	}
	return ""
}

// newBroadcastSource joins a resource's private topic; nil until a
// realtime implementation is linked in.
var newBroadcastSource func(ctx context.Context, c *Client, rt ResourceType, topic string) (watchSource, error)

// newRealtimeSource subscribes to changes of table rows matching filter;
// nil until a realtime implementation is linked in.
var newRealtimeSource func(ctx context.Context, c *Client, rt ResourceType, table, filter string) (watchSource, error)

func (w *Watch) run(ctx context.Context, c *Client, rt ResourceType, table, id string, snap *Update, src watchSource, cfg watchConfig) error {
	defer src.close()
	send := func(u *Update) bool {
		select {
		case w.updates <- *u:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !send(snap) {
		return quiet(ctx)
	}
	last := snap
	for !last.Final {
		pushed, err := src.next(ctx)
		if err != nil {
			return quiet(ctx, err)
		}
		u := pushed
		if u == nil {
			if u, err = c.snapshot(ctx, rt, table, id); err != nil {
				if errors.Is(err, ErrNotFound) {
					u = &Update{ResourceType: rt, ID: id, Event: "DELETE", Status: last.Status, Progress: last.Progress,
						Message: last.Message, Final: true, Time: c.opts.now()}
				} else {
					return quiet(ctx, err)
				}
			} else if !u.updatedAt.After(last.updatedAt) {
				continue // nothing new
			} else {
				u.Event = "UPDATE"
			}
		} else if !u.Final && !u.updatedAt.IsZero() && !u.updatedAt.After(last.updatedAt) {
			continue // older than what was sent (the snapshot raced the push)
		}
		if !send(u) {
			return quiet(ctx)
		}
		last = u
	}
	return nil
}

// quiet turns the watch's own cancellation into the caller's context
// error (or nil after Close).
func quiet(ctx context.Context, errs ...error) error {
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return context.Cause(ctx)
}

// snapshot reads the resource's current row.
func (c *Client) snapshot(ctx context.Context, rt ResourceType, table, id string) (*Update, error) {
	var raw json.RawMessage
	err := c.do(ctx, "read "+string(rt), true, func(cl *call) error {
		return cl.exec(cl.from(table).Select("*", "", false).Eq("id", id).Single(), &raw)
	})
	if err != nil {
		return nil, notFoundMessage(err, string(rt)+" "+id)
	}
	u, err := decodeUpdate(rt, raw)
	if err != nil {
		return nil, err
	}
	u.Event, u.Time = "snapshot", c.opts.now()
	return u, nil
}

// decodeUpdate builds an Update from a row of the resource's table.
func decodeUpdate(rt ResourceType, raw json.RawMessage) (*Update, error) {
	u := &Update{ResourceType: rt}
	var row watchedRow
	switch rt {
	case ResourceTask:
		row = new(Task)
	case ResourceDeployment:
		row = new(Deployment)
	case ResourceBuild:
		row = new(Build)
	case ResourceTicket:
		row = new(ticketRow)
	default:
		return u, nil
	}
	if err := json.Unmarshal(raw, row); err != nil {
		return nil, fmt.Errorf("decode %s: %w", rt, err)
	}
	row.fill(u)
	return u, nil
}

// watchedRow is a decoded row of a table a watch follows; fill sets the
// Update's fields from it.
type watchedRow interface{ fill(u *Update) }

func (t *Task) fill(u *Update) {
	u.Task, u.ID, u.Status, u.Progress, u.Message, u.updatedAt = t, t.ID, t.Status, t.Progress, t.Message, t.UpdatedAt
	u.Final = IsFinal(t.Status)
}

func (d *Deployment) fill(u *Update) {
	u.Deployment, u.ID, u.Status, u.Progress, u.Message, u.updatedAt = d, d.ID, d.Status, d.Progress, d.Message, d.UpdatedAt
	u.Final = IsFinal(d.Status)
}

func (b *Build) fill(u *Update) {
	u.Build, u.ID, u.Status, u.updatedAt = b, b.ID, b.Status, b.UpdatedAt
	u.Final = IsFinal(b.Status)
	if b.Status == StatusSucceeded {
		u.Progress = 100
	}
}

// ticketRow is a row of environment_allocations as a watch reads it.
type ticketRow struct {
	allocationRow
	UpdatedAt time.Time `json:"updated_at"`
}

func (r *ticketRow) fill(u *Update) {
	l := r.lease()
	u.Lease, u.ID, u.Status, u.Message, u.updatedAt = &l, l.Ticket, l.Status, l.Reason, r.UpdatedAt
	u.Final = l.Finished()
}

// Watch follows one task until it succeeds, fails or is cancelled.
func (s *TasksService) Watch(ctx context.Context, id string, opts ...WatchOption) (*Watch, error) {
	return s.c.Watch(ctx, ResourceTask, id, opts...)
}

// Watch follows one deployment until it succeeds, fails or is cancelled.
func (s *DeploymentsService) Watch(ctx context.Context, id string, opts ...WatchOption) (*Watch, error) {
	return s.c.Watch(ctx, ResourceDeployment, id, opts...)
}

// WatchTicket follows a lease ticket until it is released, expired or
// cancelled; an update with Status "active" means the environment is held.
func (s *EnvironmentsService) WatchTicket(ctx context.Context, ticket string, opts ...WatchOption) (*Watch, error) {
	return s.c.Watch(ctx, ResourceTicket, ticket, opts...)
}

// WaitForLease waits until the ticket holds the environment and returns
// it, calling progress (if not nil) with the ticket's place in the queue
// whenever it is read. Expiry of the holder's lease is lazy in the
// database, so waiting re-reads the queue (RPC environment_queue, which
// applies expiry and promotes the next ticket) at the poll interval and
// when the holder's lease ends, and at once when Realtime reports a change
// of the ticket. A ticket that ends without being granted (released while
// queued) is ErrConflict.
func (s *EnvironmentsService) WaitForLease(ctx context.Context, ticket string, progress func(Lease), opts ...WatchOption) (*Lease, error) {
	tk, err := s.Ticket(ctx, ticket)
	if err != nil {
		return nil, fmt.Errorf("wait for lease: %w", err)
	}
	cfg := s.c.watchConfig(opts)
	var wake <-chan Update
	if w, err := s.WatchTicket(ctx, ticket, opts...); err == nil {
		defer w.Close()
		wake = w.Updates()
	}
	for {
		q, err := s.Queue(ctx, tk.EnvironmentID)
		if err != nil {
			return nil, fmt.Errorf("wait for lease: %w", err)
		}
		var mine *Lease
		for i := range q {
			if q[i].Ticket == ticket {
				mine = &q[i]
			}
		}
		if mine == nil {
			cur, err := s.Ticket(ctx, ticket)
			if err != nil {
				return nil, fmt.Errorf("wait for lease: %w", err)
			}
			return nil, &Error{Op: "wait for lease", StatusCode: 409, Code: "PT409",
				Message: fmt.Sprintf("ticket %s ended %s without being granted", ticket, cur.Status)}
		}
		if mine.Active() {
			return mine, nil
		}
		if progress != nil {
			progress(*mine)
		}
		delay := cfg.poll
		if len(q) > 0 && q[0].Active() && q[0].ExpiresAt != nil {
			if until := time.Until(*q[0].ExpiresAt) + 50*time.Millisecond; until > 0 && until < delay {
				delay = until
			}
		}
		t := time.NewTimer(delay)
		select {
		case _, ok := <-wake:
			if !ok {
				wake = nil
			}
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("wait for lease: %w", ctx.Err())
		}
		t.Stop()
	}
}

// WatchResource follows every task working on one resource (a resource
// type and id, e.g. "deployment" and its id): first a snapshot of each
// existing task, oldest first, then each task's changes as they happen,
// including tasks created later. Unlike Watch it does not end when a task
// finishes (more may follow); it ends when ctx ends or the watch is closed.
// Changes come from Realtime (task_executions, filter resource_id=eq.<id>,
// under the caller's row-level security), else from polling.
func (s *TasksService) WatchResource(ctx context.Context, resourceType, resourceID string, opts ...WatchOption) (*Watch, error) {
	c := s.c
	if resourceType == "" {
		return nil, fmt.Errorf("watch tasks: a resource type is required: %w", ErrValidation)
	}
	if err := validUUID("resource id", resourceID); err != nil {
		return nil, fmt.Errorf("watch tasks: %w", err)
	}
	cfg := c.watchConfig(opts)
	list := func(ctx context.Context) ([]Task, error) {
		var out []Task
		o := TaskListOptions{ResourceType: resourceType, ResourceID: resourceID, ListOptions: ListOptions{Limit: MaxPageSize}}
		for {
			p, err := s.List(ctx, o)
			if err != nil {
				return nil, err
			}
			out = append(out, p.Items...)
			if p.Next == "" {
				break
			}
			o.Cursor = p.Next
		}
		// Oldest first, the order they happened.
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
		return out, nil
	}
	initial, err := list(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch tasks: %w", err)
	}
	wctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.ctx, cancel)
	w := &Watch{updates: make(chan Update, 16), cancel: cancel, done: make(chan struct{}), mode: "poll"}
	var src watchSource = pollSource{every: cfg.poll}
	if !cfg.forcePoll && newRealtimeSource != nil {
		if rs, err := newRealtimeSource(wctx, c, ResourceTask, "task_executions", "resource_id=eq."+resourceID); err == nil {
			src, w.mode = rs, "realtime"
		} else {
			c.opts.logger.Debug("watch: realtime unavailable, polling", "err", err)
		}
	}
	err = c.spawn(func() {
		defer close(w.done)
		defer close(w.updates)
		defer stop()
		defer cancel()
		defer src.close()
		seen := map[string]time.Time{}
		send := func(t Task, event string, at time.Time) bool {
			if last, ok := seen[t.ID]; ok && !t.UpdatedAt.After(last) {
				return true
			}
			seen[t.ID] = t.UpdatedAt
			u := Update{ResourceType: ResourceTask, Event: event, Time: at}
			t.fill(&u)
			select {
			case w.updates <- u:
				return true
			case <-wctx.Done():
				return false
			}
		}
		for _, t := range initial {
			if !send(t, "snapshot", c.opts.now()) {
				return
			}
		}
		for {
			pushed, err := src.next(wctx)
			if err != nil {
				if err := quiet(wctx, err); err != nil {
					w.setErr(err)
				}
				return
			}
			if pushed != nil {
				if pushed.Task != nil && pushed.Task.ResourceType == resourceType && !send(*pushed.Task, pushed.Event, pushed.Time) {
					return
				}
				continue
			}
			ts, err := list(wctx)
			if err != nil {
				if err := quiet(wctx, err); err != nil {
					w.setErr(err)
				}
				return
			}
			for _, t := range ts {
				event := "UPDATE"
				if _, ok := seen[t.ID]; !ok {
					event = "INSERT"
				}
				if !send(t, event, c.opts.now()) {
					return
				}
			}
		}
	})
	if err != nil {
		src.close()
		stop()
		cancel()
		return nil, fmt.Errorf("watch tasks: %w", err)
	}
	return w, nil
}
