// Package realtime is a Go client for Supabase Realtime (Phoenix channels
// over WebSocket): postgres_changes subscriptions with filters, broadcast
// and presence, for the official server and sfp's embedded one.
//
//	c, err := realtime.New("http://localhost:54321", anonKey,
//		realtime.WithAccessToken(func(ctx context.Context) (string, error) { return session.AccessToken, nil }))
//	if err := c.Connect(ctx); err != nil { … }
//	defer c.Close()
//	ch := c.Channel("tasks").OnPostgresChanges(realtime.PostgresChangesFilter{
//		Event: realtime.AllChanges, Table: "task_executions", Filter: "resource_id=eq." + id,
//	}, func(e *realtime.PostgresChangeEvent) { … })
//	if err := ch.Subscribe(ctx); err != nil { … } // the server's reason
//
// The client sends heartbeats, reconnects with jittered exponential backoff
// and rejoins its channels, and pushes refreshed access tokens to joined
// channels. Handlers run on one goroutine per client, in the order the
// server sent the events. No goroutine outlives Close.
package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
)

// Errors callers can test with errors.Is.
var (
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("realtime: client closed")
	// ErrNotJoined: the channel is not subscribed.
	ErrNotJoined = errors.New("realtime: channel not subscribed")
	// ErrTimeout: the server did not answer in time.
	ErrTimeout = errors.New("realtime: timed out waiting for the server")
	// ErrDisconnected: the connection was lost before the server answered.
	ErrDisconnected = errors.New("realtime: connection lost")
)

// ServerError is a refusal from the server: a join error reply or a
// subscription error, with the server's reason.
type ServerError struct {
	Topic  string
	Reason string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("realtime: %s: %s", e.Topic, e.Reason)
}

// ConnectError is a refused WebSocket connection: the HTTP status and the
// server's message (an invalid API key gives 401, for instance).
type ConnectError struct {
	Status  int
	Message string
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("realtime: connect: HTTP %d: %s", e.Status, e.Message)
}

// TokenSource returns the access token (a user's JWT) channels join with.
// It is called on connect, on each join and on each heartbeat, so
// returning a refreshed token is enough to keep channels authorised.
type TokenSource func(ctx context.Context) (string, error)

type options struct {
	token         TokenSource
	logger        *slog.Logger
	heartbeat     time.Duration
	timeout       time.Duration
	backoffMin    time.Duration
	backoffMax    time.Duration
	vsn           string
	httpClient    *http.Client
	header        http.Header
	deliveryQueue int
}

// Option configures a Client.
type Option func(*options)

// WithAccessToken sets where access tokens come from. Without it channels
// join with the API key's claims (the anon or service role).
func WithAccessToken(src TokenSource) Option { return func(o *options) { o.token = src } }

// WithLogger sets the logger; by default nothing is logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithHeartbeatInterval sets how often heartbeats are sent (default 25s);
// a heartbeat not answered by the next one drops the connection, which is
// then re-established.
func WithHeartbeatInterval(d time.Duration) Option { return func(o *options) { o.heartbeat = d } }

// WithTimeout bounds waiting for a reply to a join, leave or push
// (default 10s).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithReconnectBackoff sets the first and the longest delay between
// reconnection attempts (default 250ms and 10s). Delays double and are
// jittered.
func WithReconnectBackoff(min, max time.Duration) Option {
	return func(o *options) { o.backoffMin, o.backoffMax = min, max }
}

// WithProtocolVersion selects the Phoenix serializer: "1.0.0" or "2.0.0"
// (the default, as realtime-js).
func WithProtocolVersion(vsn string) Option { return func(o *options) { o.vsn = vsn } }

// WithHTTPClient sets the HTTP client used for the WebSocket handshake.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithHeader adds headers to the WebSocket handshake.
func WithHeader(h http.Header) Option { return func(o *options) { o.header = h.Clone() } }

// WithDeliveryQueue sets how many received events may wait for handlers
// (default 1024). When it is full the client stops reading (and logs a
// warning), and a server that cannot send eventually disconnects the
// client.
func WithDeliveryQueue(n int) Option { return func(o *options) { o.deliveryQueue = n } }

// Client is a connection to a Realtime server and its channels. Its
// methods are safe for concurrent use.
type Client struct {
	url    string
	apiKey string
	o      options
	log    *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	// goroutines counts what Close waits for; unlike a sync.WaitGroup it
	// may grow while Close waits (a reconnection racing with Close).
	goroutines tracker
	ref        atomic.Uint64

	mu        sync.Mutex
	conn      *wsConn
	connWait  chan struct{} // closed when a connection is up; replaced when it drops
	channels  map[string]*Channel
	started   bool
	closed    bool
	lastToken string

	deliverQ  chan delivery
	queueFull atomic.Bool // deliverQ was found full; cleared when it is not
	closeSig  chan struct{}
	sinksMu   sync.Mutex
	sinksGone []chan Event
}

// New returns a client for a Realtime endpoint. rawURL is the gateway's
// base URL (http://host:port; the client adds /realtime/v1/websocket), the
// Realtime endpoint (…/realtime/v1) or a WebSocket URL (ws:// or wss://).
// apiKey is the publishable or secret key (or a legacy anon or service_role
// key), sent as the apikey query parameter; the gateway hands Realtime the
// JWT of the key's role.
func New(rawURL, apiKey string, opts ...Option) (*Client, error) {
	o := options{
		heartbeat:     25 * time.Second,
		timeout:       10 * time.Second,
		backoffMin:    250 * time.Millisecond,
		backoffMax:    10 * time.Second,
		vsn:           phoenix.V2,
		httpClient:    http.DefaultClient,
		deliveryQueue: 1024,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.vsn != phoenix.V1 && o.vsn != phoenix.V2 {
		return nil, fmt.Errorf("realtime: unsupported protocol version %q: use %q or %q", o.vsn, phoenix.V1, phoenix.V2)
	}
	if apiKey == "" {
		return nil, errors.New("realtime: an API key is required")
	}
	if o.heartbeat <= 0 || o.timeout <= 0 || o.backoffMin <= 0 || o.backoffMax < o.backoffMin || o.deliveryQueue <= 0 {
		return nil, errors.New("realtime: heartbeat interval, timeout, delivery queue and backoff must be positive (backoff max ≥ min)")
	}
	u, err := endpointURL(rawURL, apiKey, o.vsn)
	if err != nil {
		return nil, err
	}
	log := o.logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		url: u, apiKey: apiKey, o: o, log: log, ctx: ctx, cancel: cancel,
		connWait: make(chan struct{}),
		channels: map[string]*Channel{},
		deliverQ: make(chan delivery, o.deliveryQueue),
		closeSig: make(chan struct{}, 1),
	}
	return c, nil
}

// endpointURL builds the WebSocket URL with apikey and vsn.
func endpointURL(raw, apiKey, vsn string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("realtime: invalid URL %q: %w", raw, err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("realtime: invalid URL %q: the scheme must be http, https, ws or wss", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("realtime: invalid URL %q: no host", raw)
	}
	p := strings.TrimRight(u.Path, "/")
	switch {
	case strings.HasSuffix(p, "/websocket"):
	case p == "":
		p = "/realtime/v1/websocket"
	default:
		p += "/websocket"
	}
	u.Path, u.RawPath = p, ""
	q := u.Query()
	q.Set("apikey", apiKey)
	q.Set("vsn", vsn)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Connect opens the connection and keeps it open (reconnecting when it
// drops) until Close. It returns the first connection attempt's error.
func (c *Client) Connect(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if c.started {
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	conn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.closed || c.started {
		c.mu.Unlock()
		conn.close(websocket.StatusNormalClosure, "")
		if c.closed {
			return ErrClosed
		}
		return nil
	}
	c.started = true
	c.mu.Unlock()
	c.goroutines.add(2)
	go func() { defer c.goroutines.done(); c.dispatch() }()
	go func() { defer c.goroutines.done(); c.run(conn) }()
	return nil
}

// Close leaves nothing running: the connection is closed, handlers stop
// being called and Events channels are closed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	conn := c.conn
	c.mu.Unlock()
	c.cancel()
	if conn != nil {
		conn.close(websocket.StatusNormalClosure, "client closed")
	}
	<-c.goroutines.idle()
	return nil
}

func (c *Client) nextRef() json.RawMessage { return phoenix.Ref(c.ref.Add(1)) }

// dial opens one WebSocket connection and starts its reader and heartbeat.
func (c *Client) dial(ctx context.Context) (*wsConn, error) {
	dctx, cancel := context.WithTimeout(ctx, c.o.timeout)
	defer cancel()
	ws, resp, err := websocket.Dial(dctx, c.url, &websocket.DialOptions{
		HTTPClient:      c.o.httpClient,
		HTTPHeader:      c.o.header,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			msg := resp.Status
			if resp.Body != nil {
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				resp.Body.Close()
				var e struct {
					Error   string `json:"error"`
					Message string `json:"message"`
				}
				if json.Unmarshal(body, &e) == nil && (e.Error != "" || e.Message != "") {
					msg = e.Error + e.Message
				} else if len(body) > 0 {
					msg = strings.TrimSpace(string(body))
				}
			}
			return nil, &ConnectError{Status: resp.StatusCode, Message: msg}
		}
		return nil, fmt.Errorf("realtime: connect to %s: %w", redact(c.url), err)
	}
	ws.SetReadLimit(8 << 20)
	conn := &wsConn{c: c, ws: ws, pending: map[string]chan replyMsg{}, done: make(chan struct{})}
	c.goroutines.add(2)
	go func() { defer c.goroutines.done(); conn.readLoop() }()
	go func() { defer c.goroutines.done(); conn.heartbeatLoop() }()
	return conn, nil
}

func redact(u string) string {
	if i := strings.Index(u, "?"); i >= 0 {
		return u[:i]
	}
	return u
}

// run keeps a connection up: when one drops it reconnects with jittered
// exponential backoff and rejoins the channels that should be joined.
func (c *Client) run(conn *wsConn) {
	attempt := 0
	for {
		c.setConn(conn)
		c.rejoinAll(conn)
		select {
		case <-conn.done:
		case <-c.ctx.Done():
			conn.close(websocket.StatusNormalClosure, "client closed")
			<-conn.done
			c.setConn(nil)
			return
		}
		c.setConn(nil)
		c.log.Info("realtime connection lost; reconnecting", "error", conn.err())
		for {
			d := backoff(c.o.backoffMin, c.o.backoffMax, attempt)
			attempt++
			select {
			case <-c.ctx.Done():
				return
			case <-time.After(d):
			}
			var err error
			conn, err = c.dial(c.ctx)
			if err == nil {
				attempt = 0
				break
			}
			c.log.Info("realtime reconnect failed", "error", err, "attempt", attempt)
		}
	}
}

// backoff returns the delay before reconnection attempt n: doubling from
// min to max, with half of it random so clients spread out after an outage.
func backoff(min, max time.Duration, n int) time.Duration {
	d := min
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

func (c *Client) setConn(conn *wsConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if conn != nil && c.conn == nil {
		c.conn = conn
		close(c.connWait)
		return
	}
	if conn == nil && c.conn != nil {
		c.conn = nil
		c.connWait = make(chan struct{})
		for _, ch := range c.channels {
			ch.connLost()
		}
	}
}

// currentConn waits for a connection.
func (c *Client) currentConn(ctx context.Context) (*wsConn, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		if !c.started {
			c.mu.Unlock()
			return nil, errors.New("realtime: not connected: call Connect first")
		}
		conn, wait := c.conn, c.connWait
		c.mu.Unlock()
		if conn != nil {
			return conn, nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.ctx.Done():
			return nil, ErrClosed
		}
	}
}

// token returns the access token to join with ("" to use the API key).
func (c *Client) token(ctx context.Context) (string, error) {
	if c.o.token == nil {
		return "", nil
	}
	t, err := c.o.token(ctx)
	if err != nil {
		return "", fmt.Errorf("realtime: get access token: %w", err)
	}
	c.mu.Lock()
	c.lastToken = t
	c.mu.Unlock()
	return t, nil
}

// RefreshAuth fetches the access token and, if it changed, pushes it to
// every joined channel (the access_token event), so visibility checks use
// the new claims and the channels outlive the old token. The client does
// this on every heartbeat.
func (c *Client) RefreshAuth(ctx context.Context) error {
	if c.o.token == nil {
		return nil
	}
	c.mu.Lock()
	prev := c.lastToken
	c.mu.Unlock()
	t, err := c.token(ctx)
	if err != nil {
		return err
	}
	if t == prev || t == "" {
		return nil
	}
	for _, ch := range c.snapshotChannels() {
		ch.pushToken(t)
	}
	return nil
}

func (c *Client) snapshotChannels() []*Channel {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Channel, 0, len(c.channels))
	for _, ch := range c.channels {
		out = append(out, ch)
	}
	return out
}

func (c *Client) rejoinAll(conn *wsConn) {
	for _, ch := range c.snapshotChannels() {
		if ch.wantsJoin() {
			c.goroutines.add(1)
			go func() { defer c.goroutines.done(); ch.rejoin(conn) }()
		}
	}
}

// Channel returns the channel for a topic name ("room1" joins
// "realtime:room1"), creating it on first use. Options apply when it is
// created.
func (c *Client) Channel(name string, opts ...ChannelOption) *Channel {
	topic := "realtime:" + strings.TrimPrefix(name, "realtime:")
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.channels[topic]; ok {
		return ch
	}
	ch := &Channel{c: c, topic: topic, name: strings.TrimPrefix(topic, "realtime:")}
	for _, opt := range opts {
		opt(&ch.cfg)
	}
	c.channels[topic] = ch
	return ch
}

// removeChannel forgets a channel after it was unsubscribed.
func (c *Client) removeChannel(ch *Channel) {
	c.mu.Lock()
	if c.channels[ch.topic] == ch {
		delete(c.channels, ch.topic)
	}
	c.mu.Unlock()
}

// delivery is an event on its way to a channel's handlers.
type delivery struct {
	ch *Channel
	ev Event
}

// enqueue hands an event to the dispatcher, waiting while its queue is
// full (back-pressure on the connection). Waiting is logged, once each
// time the queue fills, so a reader held up by slow handlers (and the
// lost heartbeats that follow) can be told from a slow server.
func (c *Client) enqueue(ch *Channel, ev Event) {
	select {
	case c.deliverQ <- delivery{ch, ev}:
		c.queueFull.Store(false)
		return
	default:
	}
	if !c.queueFull.Swap(true) {
		c.log.Warn("realtime handlers fall behind: the delivery queue is full and reading from the server waits for them",
			"queue", cap(c.deliverQ), "topic", ch.topic)
	}
	select {
	case c.deliverQ <- delivery{ch, ev}:
	case <-c.ctx.Done():
	}
}

// dispatch calls handlers and feeds Events channels, one event at a time.
func (c *Client) dispatch() {
	defer c.closeAllSinks()
	for {
		select {
		case d := <-c.deliverQ:
			d.ch.deliver(d.ev)
		case <-c.closeSig:
			c.closeGoneSinks()
		case <-c.ctx.Done():
			return
		}
	}
}

func (c *Client) closeGoneSinks() []chan Event {
	return closeSinks(&c.sinksMu, &c.sinksGone)
}

// closeSinks takes the sinks listed at list, holding mu, and closes them.
func closeSinks(mu *sync.Mutex, list *[]chan Event) []chan Event {
	mu.Lock()
	sinks := *list
	*list = nil
	mu.Unlock()
	for _, s := range sinks {
		close(s)
	}
	return sinks
}

// sendToSink sends ev to an Events channel of ch, waiting while it is
// full, unless the channel gets retired or the client closes meanwhile.
// Only the dispatcher closes sinks, so a sink still listed on ch is open.
func (c *Client) sendToSink(ch *Channel, s chan Event, ev Event) {
	for {
		if !ch.hasSink(s) {
			return
		}
		select {
		case s <- ev:
			return
		case <-c.ctx.Done():
			return
		case <-c.closeSig:
			c.closeGoneSinks()
		}
	}
}

func (c *Client) closeAllSinks() {
	c.closeGoneSinks()
	for _, ch := range c.snapshotChannels() {
		closeSinks(&ch.mu, &ch.sinks)
	}
}

// retireSinks schedules a channel's Events channels to be closed by the
// dispatcher (the only goroutine that sends on them).
func (c *Client) retireSinks(sinks []chan Event) {
	if len(sinks) == 0 {
		return
	}
	c.sinksMu.Lock()
	c.sinksGone = append(c.sinksGone, sinks...)
	c.sinksMu.Unlock()
	select {
	case c.closeSig <- struct{}{}:
	default:
	}
}

// tracker counts running goroutines.
type tracker struct {
	mu   sync.Mutex
	n    int
	zero chan struct{}
}

func (t *tracker) add(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		t.zero = make(chan struct{})
	}
	t.n += n
}

func (t *tracker) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n == 0 {
		close(t.zero)
	}
}

// idle returns a channel closed once no goroutine is running.
func (t *tracker) idle() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	return t.zero
}
