package embedded

import (
	"bytes"
	"context"
	"net/http"
)

// callInProcess sends one request to an in-process handler (the gateway,
// or a server behind it) and returns the status and body. The runtime uses
// it for its own calls (the admin account at first start, housekeeping)
// so they take exactly the path a client's request takes, without a
// socket.
func callInProcess(ctx context.Context, h http.Handler, method, path string, header http.Header, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://sfp.internal"+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.RemoteAddr = "127.0.0.1:0"
	w := &responseBuffer{header: http.Header{}}
	h.ServeHTTP(w, req)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.status, w.body.Bytes(), nil
}

// responseBuffer is the http.ResponseWriter of an in-process call.
type responseBuffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *responseBuffer) Header() http.Header { return w.header }

func (w *responseBuffer) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *responseBuffer) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}
