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
// Both answer 202 Accepted. Private topics are not served (see join).
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
	if _, err := verifyToken(s.cfg.Keys.Load(), token, time.Now()); err != nil {
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
		for _, m := range req.Messages {
			if !m.Private {
				s.broadcastFromAPI(m.Topic, m.Event, m.Payload)
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
		if r.URL.Query().Get("private") != "true" {
			s.broadcastFromAPI(topic, event, body)
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) broadcastFromAPI(topic, event string, payload json.RawMessage) {
	full := "realtime:" + topic
	if len(payload) == 0 {
		payload = json.RawMessage("{}")
	}
	p := []byte(`{"type":"broadcast","event":`)
	p = phoenix.AppendString(p, event)
	p = append(p, `,"payload":`...)
	p = append(p, payload...)
	p = append(p, '}')
	frames := map[string][]byte{}
	for _, ch := range s.hub.members(full) {
		f, ok := frames[ch.conn.vsn]
		if !ok {
			f = phoenix.Encode(ch.conn.vsn, phoenix.Message{JoinRef: phoenix.Null, Ref: phoenix.Null, Topic: full, Event: phoenix.EventBroadcast, Payload: p})
			frames[ch.conn.vsn] = f
		}
		ch.conn.send(outFrame{data: f})
	}
}
