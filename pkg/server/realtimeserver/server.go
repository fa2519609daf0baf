// Package realtime is the embedded runtime's Supabase Realtime server:
// Phoenix channels over WebSocket (vsn 1.0.0 and 2.0.0) with
// postgres_changes, broadcast and presence, wire-compatible with
// realtime-js and the official server for what sfp uses.
//
// Changes come from a durable logical replication slot (pgoutput on the
// supabase_realtime publication), so no table needs a trigger and changes
// arrive in commit order. Each change goes to a subscriber only if, under
// the subscriber's role and JWT claims, the table's policies admit the
// version of the row the change is about (the old row of a DELETE; see
// visibility.go); those checks run in one database round trip per batch of
// changes, whatever the number of subscribers.
//
// The runtime mounts the server behind the gateway, which maps
// /realtime/v1/websocket to /socket/websocket and /realtime/v1/api/… to
// /api/….
package realtimeserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sfp-dev/sfp/pkg/jwtkeys"
	"github.com/sfp-dev/sfp/pkg/server/realtimeserver/wal"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Config configures a Server.
type Config struct {
	// Pool is connected as authenticator: visibility checks run as each
	// subscriber's role with its claims (role and request.jwt.claims set
	// per transaction), as PostgREST runs requests.
	Pool *pgxpool.Pool
	// ReplicationConnString connects a role with REPLICATION (for example
	// supabase_replication_admin) to stream the publication's changes.
	ReplicationConnString string
	// AdminConnString, optional, connects a role that may create the slot
	// when the replication role may not.
	AdminConnString string
	// SlotName is the durable logical replication slot; default
	// "sfp_realtime". It survives restarts so no committed change is lost.
	SlotName string
	// Publication whose tables are streamed; default "supabase_realtime".
	Publication string
	// Keys verify API keys and access tokens: ES256 tokens by their kid
	// (Realtime's API_JWT_JWKS), HMAC tokens with the legacy secret while the
	// set has it (API_JWT_SECRET). The runtime replaces the Set when the
	// tenant's keys change. Nil: JWTSecret alone.
	Keys *jwtkeys.Ring
	// JWTSecret verifies HS256/384/512 tokens when Keys is nil.
	JWTSecret []byte
	// HeartbeatTimeout closes connections that sent nothing for that
	// long; default 60s (clients send a heartbeat every 25-30s).
	HeartbeatTimeout time.Duration
	// ClientQueueSize bounds the messages waiting for one client; a
	// client whose queue overflows is disconnected with a reason, so
	// nobody else waits for it. Default 10000: room for a healthy client
	// to absorb a burst (a large transaction, the backlog after an
	// outage) while its writer catches up.
	ClientQueueSize int
	// Logger receives structured logs; default discards them.
	Logger *slog.Logger
	// Limits bound the tenant's sockets, channels, joins and events
	// (limits.go); zero fields take Supabase Realtime's defaults.
	Limits Limits
	// ObserveLag is told, for each dispatched transaction that had
	// changes, how long after its commit it was dispatched to the
	// subscribers (the replication lag in seconds); nil observes nothing.
	ObserveLag func(time.Duration)

	// MaxBatchChanges bounds the changes dispatched (and checked against
	// row-level security) together; default 500.
	MaxBatchChanges int
	// CheckConnections is how many pool connections the row visibility
	// checks of one batch may use in parallel when there are many
	// subscriber groups; default 2.
	CheckConnections int
	// MaxDispatchLag bounds how far behind the database delivery may
	// fall: a transaction committed longer ago than this when its batch
	// is dispatched is skipped, and the channels it would have reached
	// get a system message saying so (overload.go); default 10s.
	MaxDispatchLag time.Duration
	// StatusInterval is how often the slot's confirmed position is
	// reported to PostgreSQL; default 1s.
	StatusInterval time.Duration
	// MessageRetention is how long Broadcast from Database messages stay
	// in realtime.messages before their daily partition is dropped;
	// default 72h (broadcast_db.go).
	MessageRetention time.Duration
}

func (c *Config) setDefaults() {
	if c.SlotName == "" {
		c.SlotName = "sfp_realtime"
	}
	if c.Publication == "" {
		c.Publication = "supabase_realtime"
	}
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = 60 * time.Second
	}
	if c.ClientQueueSize == 0 {
		c.ClientQueueSize = 10000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.MaxBatchChanges == 0 {
		c.MaxBatchChanges = 500
	}
	if c.CheckConnections == 0 {
		c.CheckConnections = 2
	}
	if c.StatusInterval == 0 {
		c.StatusInterval = time.Second
	}
	if c.MaxDispatchLag == 0 {
		c.MaxDispatchLag = DefaultMaxDispatchLag
	}
	if c.Keys == nil && len(c.JWTSecret) > 0 {
		c.Keys = jwtkeys.NewRing(jwtkeys.LegacySet(c.JWTSecret))
	}
	c.Limits.setDefaults()
}

func (c *Config) validate() error {
	switch {
	case c.Pool == nil:
		return errors.New("realtime: Config.Pool is required (a pool connected as authenticator)")
	case c.ReplicationConnString == "":
		return errors.New("realtime: Config.ReplicationConnString is required (a role with REPLICATION)")
	case c.Keys == nil && len(c.JWTSecret) == 0:
		return errors.New("realtime: Config.Keys or Config.JWTSecret is required")
	case c.HeartbeatTimeout < 0:
		return fmt.Errorf("realtime: Config.HeartbeatTimeout must be positive, got %s", c.HeartbeatTimeout)
	case c.MaxDispatchLag < 0:
		return fmt.Errorf("realtime: Config.MaxDispatchLag must be positive, got %s", c.MaxDispatchLag)
	case c.ClientQueueSize < 0:
		return fmt.Errorf("realtime: Config.ClientQueueSize must be positive, got %d", c.ClientQueueSize)
	case !validSlotName(c.SlotName):
		return fmt.Errorf("realtime: Config.SlotName %q is not a valid replication slot name (lower-case letters, digits and underscores, at most 63)", c.SlotName)
	}
	return c.Limits.validate()
}

func validSlotName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// closeGrace is how long Close lets clients take the close frame before it
// drops the connections that are not reading.
const closeGrace = 5 * time.Second

// Server is a Realtime server. It is an http.Handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	closers tracker // goroutines closing client connections
	closing atomic.Bool

	hub       *hub
	limits    *limiter
	cat       *catalog
	capture   *wal.Capture
	disp      *dispatcher
	processed atomic.Uint64
	bgDone    chan struct{}
	// broadcastDB: the stream reads realtime.messages (broadcast_db.go).
	broadcastDB bool
	counts      counters // metrics.go
}

// New validates cfg, makes sure the replication slot exists (so every
// change committed from now on is captured) and starts change capture.
func New(ctx context.Context, cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if _, err := wal.ReplicationConfig(cfg.ReplicationConnString); err != nil {
		return nil, fmt.Errorf("realtime: %w", err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		ctx:    sctx,
		cancel: cancel,
		hub:    newHub(),
		limits: newLimiter(cfg.Limits),
		cat:    newCatalog(cfg.Pool),
		bgDone: make(chan struct{}),
	}
	txns := make(chan *wal.Txn, 256)
	s.capture = wal.New(wal.Config{
		ConnString:  cfg.ReplicationConnString,
		AdminConn:   cfg.AdminConnString,
		Slot:        cfg.SlotName,
		Publication: cfg.Publication,
		Log:         s.log,
		Out:         txns,
		Processed:   &s.processed,
		StatusEvery: cfg.StatusInterval,
		OnRelation:  s.cat.invalidate,
	})
	s.disp = &dispatcher{
		in:        txns,
		pool:      cfg.Pool,
		cat:       s.cat,
		hub:       s.hub,
		log:       s.log,
		maxBatch:  cfg.MaxBatchChanges,
		parallel:  cfg.CheckConnections,
		processed: &s.processed,
		lag:       s.observeLag,
		over:      overload{maxLag: cfg.MaxDispatchLag},
	}
	s.broadcastDB = detectBroadcastDB(ctx, s)
	if err := s.capture.Prepare(ctx); err != nil {
		cancel()
		return nil, fmt.Errorf("realtime: %w", err)
	}
	var bg sync.WaitGroup
	bg.Add(3)
	go func() { defer bg.Done(); s.capture.Run(sctx) }()
	go func() { defer bg.Done(); s.maintainMessages(sctx) }()
	go func() { defer bg.Done(); s.disp.run(sctx) }()
	go func() { bg.Wait(); close(s.bgDone) }()
	return s, nil
}

// ServeHTTP serves the WebSocket endpoint (/socket/websocket, or any path
// ending in /websocket) and the broadcast API (/api/broadcast…).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/websocket"):
		s.serveSocket(w, r)
	case strings.HasPrefix(p, "/api/"):
		s.serveAPI(w, r)
	default:
		writeJSONError(w, http.StatusNotFound, "not found")
	}
}

// Close closes every socket with a reason (clients reconnect and rejoin
// once the server is back), stops change capture and keeps the slot, so
// the next start resumes where this one stopped.
func (s *Server) Close(ctx context.Context) error {
	if !s.closing.CompareAndSwap(false, true) {
		return nil
	}
	for _, c := range s.hub.connections() {
		c.close(websocket.StatusServiceRestart, closeShutdown)
	}
	closed := s.closers.idle()
	var err error
	select {
	case <-closed:
	case <-time.After(closeGrace):
		// Clients that read nothing would hold their writes until the
		// write timeout: abort them.
		s.cancel()
		select {
		case <-closed:
		case <-ctx.Done():
			err = fmt.Errorf("realtime: close: %w", ctx.Err())
		}
	case <-ctx.Done():
		err = fmt.Errorf("realtime: close: %w", ctx.Err())
	}
	s.cancel()
	select {
	case <-s.bgDone:
	case <-ctx.Done():
		if err == nil {
			err = fmt.Errorf("realtime: close: %w", ctx.Err())
		}
	}
	return err
}

// Stats are counters about the server's work, for monitoring and tests.
type Stats struct {
	Connections      int
	Channels         int   // joined channels
	Subscriptions    int   // postgres_changes subscriptions (binding × table)
	Batches          int64 // dispatched batches of transactions
	Changes          int64 // changes that matched at least one subscription
	VisibilityChecks int64 // row-level security statements run
	Delivered        int64 // postgres_changes messages queued to clients
	Broadcasts       int64 // Broadcast from Database messages queued to clients
	ConfirmedLSN     string
	Streaming        bool // the replication stream is connected
}

// Stats returns current counters.
func (s *Server) Stats() Stats {
	s.hub.mu.Lock()
	channels := 0
	for _, m := range s.hub.topics {
		channels += len(m)
	}
	s.hub.mu.Unlock()
	subs := 0
	for _, list := range s.hub.subs.Load().byRel {
		subs += len(list)
	}
	return Stats{
		Connections:      len(s.hub.connections()),
		Channels:         channels,
		Subscriptions:    subs,
		Batches:          s.disp.stats.batches.Load(),
		Changes:          s.disp.stats.changes.Load(),
		VisibilityChecks: s.disp.stats.checks.Load(),
		Delivered:        s.disp.stats.delivered.Load(),
		Broadcasts:       s.disp.stats.broadcasts.Load(),
		ConfirmedLSN:     pglogrepl.LSN(s.processed.Load()).String(),
		Streaming:        s.capture.Connected(),
	}
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// tracker counts running goroutines. Unlike a sync.WaitGroup it may be
// incremented while someone waits for zero (a client disconnecting while
// the server closes).
type tracker struct {
	mu   sync.Mutex
	n    int
	zero chan struct{}
}

func (t *tracker) add() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		t.zero = make(chan struct{})
	}
	t.n++
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
