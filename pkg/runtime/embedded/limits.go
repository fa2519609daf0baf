package embedded

import (
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/sfp-dev/sfp/pkg/server/gateway"
	"github.com/sfp-dev/sfp/pkg/server/realtimeserver"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// idleTimeout closes keep-alive connections idle for that long.
const idleTimeout = 2 * time.Minute

// newHTTPServer is the tenant's one HTTP server, in front of the gateway.
// Its deadlines bound how long a client may take to send a request
// (tenant.yaml api.read_header_timeout; the body's deadline,
// api.read_body_timeout, is the gateway's, which answers 408). There is
// no ReadTimeout or WriteTimeout: they would also cut off WebSockets and
// long responses, which have their own bounds (realtime's heartbeat
// timeout, the database's statement timeout).
func newHTTPServer(h http.Handler, api tenant.APIConfig, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: time.Duration(api.ReadHeaderTimeout),
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// limitConnections caps the connections the tenant's clients hold at once
// (tenant.yaml api.max_connections), WebSockets included.
func limitConnections(l net.Listener, api tenant.APIConfig, log *slog.Logger) net.Listener {
	warnFileLimit(log, api.MaxConnections)
	return gateway.LimitListener(l, api.MaxConnections, log.With("component", "gateway"))
}

// fdReserve are the file descriptors sfp needs besides client
// connections: database pools, the replication stream, logs, listeners.
const fdReserve = 256

// warnFileLimit warns when the process may not open as many connections as
// api.max_connections admits: beyond the limit, accepting fails (net/http
// retries, clients wait) instead of being refused with a clear answer. Go
// raises the soft RLIMIT_NOFILE to the hard limit at start
// (go.dev/issue/46279), so the hard limit is the one that matters.
func warnFileLimit(log *slog.Logger, maxConnections int) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return
	}
	if uint64(maxConnections)+fdReserve > r.Cur {
		log.Warn("api.max_connections is above what the open-files limit allows; raise the hard limit (ulimit -Hn, systemd LimitNOFILE) or lower api.max_connections",
			"max_connections", maxConnections, "nofile_soft", r.Cur, "nofile_hard", r.Max)
	}
}

// realtimeLimits are tenant.yaml's realtime: settings for the server.
func realtimeLimits(c tenant.RealtimeConfig) realtimeserver.Limits {
	return realtimeserver.Limits{
		MaxConcurrentUsers:   c.MaxConcurrentUsers,
		MaxChannelsPerClient: c.MaxChannelsPerClient,
		MaxJoinsPerSecond:    c.MaxJoinsPerSecond,
		MaxEventsPerSecond:   c.MaxEventsPerSecond,
	}
}
