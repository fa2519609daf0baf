package embedded

import (
	"context"
	"net/http"
)

// services are the in-process servers behind the gateway.
type services struct {
	handler http.Handler
	stopped chan struct{}
}

// startServices starts auth, REST, realtime and the gateway over the running
// cluster.
func startServices(ctx context.Context, inst *Instance) (*services, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"message":"the embedded HTTP services are not part of this build yet"}`))
	})
	return &services{handler: mux, stopped: make(chan struct{})}, nil
}

func (s *services) bootstrapAdmin(ctx context.Context, progress func(string)) error { return nil }

func (s *services) close(ctx context.Context) error {
	close(s.stopped)
	return nil
}
