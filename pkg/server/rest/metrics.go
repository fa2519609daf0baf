package rest

import "github.com/sfp-dev/sfp/pkg/server/rest/pgexec"

// Totals counts the transactions the server ran since New (reads and
// writes, failed ones, reads on shared connections), for the tenant's
// metrics. It costs nothing on the request path: the executor keeps the
// counters anyway.
func (s *Server) Totals() pgexec.Totals { return s.exec.Totals() }

// SchemaLoaded reports whether the schema cache is loaded (readiness: a
// server without one could answer nothing). It is loaded by New and
// replaced, never emptied, by reloads.
func (s *Server) SchemaLoaded() bool { return s.cache.Load() != nil }
