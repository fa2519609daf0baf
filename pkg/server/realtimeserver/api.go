package realtimeserver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
)

// maxAPIBody bounds a broadcast API request body.
const maxAPIBody = 3 << 20

// serveAPI serves the broadcast endpoints realtime-js uses when a channel is
// not joined (send) or on purpose (httpSend):
//
//	POST /api/broadcast                        {"messages":[{"topic","event","payload","private"}]}
//	POST /api/broadcast/{topic}/events/{event}  body = payload
//
// Both answer 202 Accepted. A private message goes to the private channels
// of its topic when the caller's token passes realtime.messages' INSERT
// policies for that topic; otherwise it is dropped, as the official server
// drops it (broadcast_db.go).
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSONError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	token := r.Header.Get("apikey")
	if token == "" {
		token = r.URL.Query().Get("apikey")
	}
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && bearer != "" {
		token = bearer
	}
	if token == "" {
		writeJSONError(w, http.StatusUnauthorized, "API key is missing")
		return
	}
	auth, err := verifyToken(s.cfg.Keys.Load(), token, time.Now())
	if err != nil {
		writeJSONError(w, http.StatusUnauthorized, err.(*tokenError).Msg)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAPIBody+1))
	if err != nil || len(body) > maxAPIBody {
		writeJSONError(w, http.StatusRequestEntityTooLarge, "payload too large")
		return
	}
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/api/broadcast")
	switch {
	case rest == "" || rest == "/":
		var req struct {
			Messages []struct {
				Topic   string          `json:"topic"`
				Event   string          `json:"event"`
				Payload json.RawMessage `json:"payload"`
				Private bool            `json:"private"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			writeJSONError(w, http.StatusBadRequest, "invalid JSON body: expected {\"messages\":[{\"topic\",\"event\",\"payload\"}]}")
			return
		}
		for _, m := range req.Messages {
			if m.Topic == "" || m.Event == "" {
				writeJSONError(w, http.StatusUnprocessableEntity, "every message needs a topic and an event")
				return
			}
		}
		if !s.allowAPIEvents(w, len(req.Messages)) {
			return
		}
		may := s.apiWriter(r.Context(), auth)
		for _, m := range req.Messages {
			if !m.Private || may(m.Topic) {
				s.broadcastFromAPI(m.Topic, m.Event, m.Payload, m.Private)
			}
		}
	default:
		parts := strings.Split(strings.TrimPrefix(rest, "/"), "/")
		if len(parts) != 3 || parts[1] != "events" {
			writeJSONError(w, http.StatusNotFound, "not found")
			return
		}
		topic, err1 := url.PathUnescape(parts[0])
		event, err2 := url.PathUnescape(parts[2])
		if err1 != nil || err2 != nil || topic == "" || event == "" {
			writeJSONError(w, http.StatusBadRequest, "invalid topic or event in path")
			return
		}
		if !json.Valid(body) {
			writeJSONError(w, http.StatusBadRequest, "payload must be JSON")
			return
		}
		if !s.allowAPIEvents(w, 1) {
			return
		}
		private := r.URL.Query().Get("private") == "true"
		if !private || s.apiWriter(r.Context(), auth)(topic) {
			s.broadcastFromAPI(topic, event, body, private)
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) broadcastFromAPI(topic, event string, payload json.RawMessage, private bool) {
	full := "realtime:" + topic
	if len(payload) == 0 {
		payload = json.RawMessage("{}")
	}
	p := []byte(`{"type":"broadcast","event":`)
	p = phoenix.AppendString(p, event)
	p = append(p, `,"payload":`...)
	p = append(p, payload...)
	p = append(p, '}')
	s.hub.sendAll(hubKey(full, private), full, phoenix.EventBroadcast, p)
}
