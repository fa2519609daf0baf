package realtimeserver

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits bound what one tenant's realtime clients may hold and do. They
// are Supabase Realtime's tenant settings, under its names and with its
// defaults, answered with its error shapes (docs/realtime.md, "Limits"):
//
//   - max_concurrent_users: sockets open at once. Beyond it the WebSocket
//     upgrade is refused with HTTP 429 {"error":"Too many connected users"}.
//   - max_channels_per_client: channels joined on one socket. Beyond it
//     phx_join is answered {"status":"error","response":{"reason":
//     "ChannelRateLimitReached: Too many channels"}}; the socket stays.
//   - max_joins_per_second: channel joins across the tenant. Beyond it
//     phx_join is answered with the reason "ClientJoinRateLimitReached: Too
//     many joins per second" and the socket is closed (the official server
//     disconnects it too); while no join is left, new sockets are refused
//     with HTTP 429 {"error":"Too many joins per second"}.
//   - max_events_per_second: messages clients send on channels (broadcast,
//     presence) across the tenant, and messages of the broadcast API. An
//     event beyond it is dropped and its channel shut down with a system
//     message "Too many messages per second" and phx_close, as the
//     official server shuts channels down; the broadcast API answers 429
//     {"message":"You have exceeded your rate limit"}.
//
// Rates are token buckets refilled at the limit per second that hold one
// second's worth: a quiet tenant may burst up to the limit at once, and the
// sustained rate never exceeds it. (The official server averages counts
// over a minute, checked every five seconds, which lets larger bursts
// through before it reacts.)
type Limits struct {
	MaxConcurrentUsers   int
	MaxChannelsPerClient int
	MaxJoinsPerSecond    int
	MaxEventsPerSecond   int
}

// Supabase Realtime's defaults (TENANT_MAX_* in its config/runtime.exs).
const (
	DefaultMaxConcurrentUsers   = 200
	DefaultMaxChannelsPerClient = 100
	DefaultMaxJoinsPerSecond    = 100
	DefaultMaxEventsPerSecond   = 100
)

func (l *Limits) setDefaults() {
	if l.MaxConcurrentUsers == 0 {
		l.MaxConcurrentUsers = DefaultMaxConcurrentUsers
	}
	if l.MaxChannelsPerClient == 0 {
		l.MaxChannelsPerClient = DefaultMaxChannelsPerClient
	}
	if l.MaxJoinsPerSecond == 0 {
		l.MaxJoinsPerSecond = DefaultMaxJoinsPerSecond
	}
	if l.MaxEventsPerSecond == 0 {
		l.MaxEventsPerSecond = DefaultMaxEventsPerSecond
	}
}

func (l *Limits) validate() error {
	for _, s := range []struct {
		name string
		v    int
	}{
		{"MaxConcurrentUsers", l.MaxConcurrentUsers},
		{"MaxChannelsPerClient", l.MaxChannelsPerClient},
		{"MaxJoinsPerSecond", l.MaxJoinsPerSecond},
		{"MaxEventsPerSecond", l.MaxEventsPerSecond},
	} {
		if s.v < 1 {
			return fmt.Errorf("realtime: Config.Limits.%s must be positive, got %d", s.name, s.v)
		}
	}
	return nil
}

// The refusals, worded as Supabase Realtime words them
// (lib/realtime_web/channels/user_socket.ex, realtime_channel.ex,
// lib/realtime/tenants/batch_broadcast.ex).
const (
	refuseTooManyUsers     = "Too many connected users"
	refuseTooManyJoins     = "Too many joins per second"
	reasonTooManyChannels  = "ChannelRateLimitReached: Too many channels"
	reasonJoinRateLimit    = "ClientJoinRateLimitReached: Too many joins per second"
	msgTooManyEvents       = "Too many messages per second"
	refuseAPIRateLimit     = "You have exceeded your rate limit"
	refuseAPIBatchTooLarge = "Too many messages to broadcast, please reduce the batch size"
)

// limitLogEvery spaces the log lines of one limit's refusals.
const limitLogEvery = 10 * time.Second

// limiter enforces Limits for one server (one tenant).
type limiter struct {
	cfg    Limits
	joins  *rate.Limiter
	events *rate.Limiter

	mu      sync.Mutex
	sockets int
	logged  map[string]time.Time // when each limit was last logged
	refusal map[string]int64     // refusals by official code (metrics.go)
}

func newLimiter(cfg Limits) *limiter {
	return &limiter{
		cfg:    cfg,
		joins:  rate.NewLimiter(rate.Limit(cfg.MaxJoinsPerSecond), cfg.MaxJoinsPerSecond),
		events: rate.NewLimiter(rate.Limit(cfg.MaxEventsPerSecond), cfg.MaxEventsPerSecond),
		logged: map[string]time.Time{},
	}
}

// admitSocket counts a new socket in, or returns why it is refused. The
// caller calls release once the socket is gone.
func (l *limiter) admitSocket(now time.Time) (release func(), refusal string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sockets >= l.cfg.MaxConcurrentUsers {
		return nil, refuseTooManyUsers
	}
	// As the official server: while the tenant's joins are exhausted, a
	// new socket (which would only join) is turned away at the door.
	if l.joins.TokensAt(now) < 1 {
		return nil, refuseTooManyJoins
	}
	l.sockets++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.sockets--
			l.mu.Unlock()
		})
	}, ""
}

// allowJoin takes one join from the tenant's rate.
func (l *limiter) allowJoin(now time.Time) bool { return l.joins.AllowN(now, 1) }

// allowEvents takes n events from the tenant's rate.
func (l *limiter) allowEvents(now time.Time, n int) bool { return l.events.AllowN(now, n) }

// shouldLog reports whether a limit's refusal is worth a log line: the
// first one, then at most one per limitLogEvery, so a flood of refusals
// cannot flood the log.
func (l *limiter) shouldLog(limit string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.logged[limit]) < limitLogEvery {
		return false
	}
	l.logged[limit] = now
	return true
}

// report logs a refusal under the official error code (rate-limited per
// code, so a flood of refusals cannot flood the log).
func (l *limiter) report(log *slog.Logger, code string) {
	l.refused(code)
	if l.shouldLog(code, time.Now()) {
		log.Warn("realtime limit reached", "code", code,
			"max_concurrent_users", l.cfg.MaxConcurrentUsers,
			"max_channels_per_client", l.cfg.MaxChannelsPerClient,
			"max_joins_per_second", l.cfg.MaxJoinsPerSecond,
			"max_events_per_second", l.cfg.MaxEventsPerSecond)
	}
}

// refusalCode is the official error code logged with a refusal.
func refusalCode(refusal string) string {
	switch refusal {
	case refuseTooManyUsers:
		return "ConnectionRateLimitReached"
	case refuseTooManyJoins:
		return "JoinsRateLimitReached"
	}
	return "RateLimitReached"
}

// admitJoin applies the join rate, then the channel count, in the official
// server's order; it returns the refusal reason, or "".
func (c *conn) admitJoin() string {
	l := c.srv.limits
	if !l.allowJoin(time.Now()) {
		l.report(c.log, "ClientJoinRateLimitReached")
		return reasonJoinRateLimit
	}
	c.mu.Lock()
	n := len(c.channels)
	c.mu.Unlock()
	if n >= l.cfg.MaxChannelsPerClient {
		l.report(c.log, "ChannelRateLimitReached")
		return reasonTooManyChannels
	}
	return ""
}

// allowEvent takes one event from the tenant's rate for a message a client
// sent on ch. Beyond the rate the message is dropped and the channel shut
// down with the official system message; the client may join again.
func (c *conn) allowEvent(ch *channel) bool {
	l := c.srv.limits
	if l.allowEvents(time.Now(), 1) {
		return true
	}
	l.report(c.log, "MessagePerSecondRateLimitReached")
	ch.shutdown(msgTooManyEvents)
	return false
}

// allowAPIEvents takes n events from the tenant's rate for a broadcast API
// request, or answers 429 as the official server does: a batch larger than
// the rate could ever allow, or a rate used up.
func (s *Server) allowAPIEvents(w http.ResponseWriter, n int) bool {
	l := s.limits
	msg := ""
	switch {
	case n > l.cfg.MaxEventsPerSecond:
		msg = refuseAPIBatchTooLarge
	case !l.allowEvents(time.Now(), n):
		msg = refuseAPIRateLimit
	default:
		return true
	}
	l.report(s.log, "MessagePerSecondRateLimitReached")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
	return false
}
