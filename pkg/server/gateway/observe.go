package gateway

import (
	"net/http"
	"time"
)

// Observer gives the gateway a RequestObserver per route when it is built,
// so that counting a request costs no lookup of its labels. Route names and
// service names come from kong.yml: a bounded set, never a path.
type Observer interface {
	// Route returns the observer of the route's requests; route is nil
	// for requests no route matched.
	Route(route *Route) RequestObserver
}

// RequestObserver is told each request's final status and how long the
// gateway took to answer it (for a WebSocket, until the upgrade).
type RequestObserver interface {
	Observe(status int, d time.Duration)
}

// RouteLabel is the name a route is counted under: its name in kong.yml,
// else its id, else "service/<service>".
func RouteLabel(r *Route) string {
	switch {
	case r == nil:
		return ""
	case r.Name != "":
		return r.Name
	case r.ID != "":
		return r.ID
	}
	return "service/" + serviceLabel(r.Service)
}

// ServiceLabel is the name a route's service is counted under.
func ServiceLabel(r *Route) string {
	if r == nil || r.Service == nil {
		return ""
	}
	return serviceLabel(r.Service)
}

func observerFor(o Observer, r *Route) RequestObserver {
	if o == nil {
		return nil
	}
	return o.Route(r)
}

// observe reports a finished request to its route's observer.
func (g *Gateway) observe(rw *responseWriter, x *exchange, start time.Time) {
	obs := g.noRoute
	if x.route != nil {
		obs = x.route.observer
	}
	if obs == nil {
		return
	}
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	obs.Observe(status, time.Since(start))
}
