package embedded

import (
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/sfp-dev/sfp/pkg/embedded/gateway"
	"github.com/sfp-dev/sfp/pkg/embedded/realtime"
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
	return gateway.LimitListener(l, api.MaxConnections, log.With("component", "gateway"))
}

// realtimeLimits are tenant.yaml's realtime: settings for the server.
func realtimeLimits(c tenant.RealtimeConfig) realtime.Limits {
	return realtime.Limits{
		MaxConcurrentUsers:   c.MaxConcurrentUsers,
		MaxChannelsPerClient: c.MaxChannelsPerClient,
		MaxJoinsPerSecond:    c.MaxJoinsPerSecond,
		MaxEventsPerSecond:   c.MaxEventsPerSecond,
	}
}
