package embedded

import (
	"context"
	"net/http"
)

// startRealtime starts the realtime server; nil until it is built in.
func startRealtime(ctx context.Context, s *services) (http.Handler, error) { return nil, nil }
