package realtime

import (
	"bytes"
	"encoding/json"

	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
)

// decodeFrame decodes a text frame from the server. A vsn 2.0.0 frame as
// servers write it — [join_ref, ref, "topic", "event", {payload}] with
// null, string or number references and topic and event without escapes —
// is split in one pass without copying: the payload is decoded once, by
// whoever handles the event, instead of being validated and copied here
// first (phoenix.DecodeV2 unmarshals the array, then topic and event
// again). Anything else goes through phoenix.Decode.
//
// The returned references and payload alias data, which the reader reuses
// for the next frame: handlers of a frame keep copies (json.Unmarshal
// into json.RawMessage copies), never the slices themselves.
func (w *wsConn) decodeFrame(data []byte) (phoenix.Message, error) {
	if w.c.o.vsn == phoenix.V2 {
		if m, ok := w.splitV2(data); ok {
			return m, nil
		}
	}
	return phoenix.Decode(w.c.o.vsn, data)
}

// splitV2 splits a vsn 2.0.0 frame in the common form, or reports false.
// The payload must be an object; it is validated when it is decoded.
func (w *wsConn) splitV2(data []byte) (phoenix.Message, bool) {
	var m phoenix.Message
	p := skipSpace(data, 0)
	if p >= len(data) || data[p] != '[' {
		return m, false
	}
	var elems [4][]byte
	p++
	for i := range elems {
		p = skipSpace(data, p)
		end := scalarEnd(data, p)
		if end < 0 {
			return m, false
		}
		elems[i] = data[p:end]
		p = skipSpace(data, end)
		if p >= len(data) || data[p] != ',' {
			return m, false
		}
		p++
	}
	last := len(data) - 1
	for last >= 0 && isSpace(data[last]) {
		last--
	}
	if last < 0 || data[last] != ']' {
		return m, false
	}
	payload := bytes.TrimRight(data[skipSpace(data, p):last], " \t\r\n")
	topic, event := elems[2], elems[3]
	if len(payload) < 2 || payload[0] != '{' || payload[len(payload)-1] != '}' ||
		len(topic) < 2 || topic[0] != '"' || len(event) < 2 || event[0] != '"' {
		return m, false
	}
	m.JoinRef, m.Ref, m.Payload = json.RawMessage(elems[0]), json.RawMessage(elems[1]), json.RawMessage(payload)
	m.Topic = w.internTopic(topic[1 : len(topic)-1])
	m.Event = internEvent(event[1 : len(event)-1])
	return m, true
}

// scalarEnd returns where the reference, topic or event starting at p
// ends: after the closing quote of a string without escapes, or at the
// end of a run of number or literal characters; -1 for anything else.
func scalarEnd(data []byte, p int) int {
	if p >= len(data) {
		return -1
	}
	if data[p] == '"' {
		for i := p + 1; i < len(data); i++ {
			switch c := data[i]; {
			case c == '"':
				return i + 1
			case c == '\\' || c < 0x20:
				return -1 // escapes: phoenix.Decode unquotes them
			}
		}
		return -1
	}
	i := p
	for i < len(data) && (data[i] >= 'a' && data[i] <= 'z' || data[i] >= '0' && data[i] <= '9' || data[i] == '-' || data[i] == '.' || data[i] == '+' || data[i] == 'E') {
		i++
	}
	if i == p {
		return -1
	}
	if lit := data[p:i]; (lit[0] < '0' || lit[0] > '9') && lit[0] != '-' && string(lit) != "null" {
		return -1 // only null, or a number, as a reference
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func skipSpace(data []byte, p int) int {
	for p < len(data) && isSpace(data[p]) {
		p++
	}
	return p
}

// internTopic returns the topic as a string, without allocating when it is
// the previous frame's (a connection mostly carries one busy topic).
func (w *wsConn) internTopic(b []byte) string {
	if string(b) == w.lastTopic {
		return w.lastTopic
	}
	w.lastTopic = string(b)
	return w.lastTopic
}

// internEvent returns the event as a string, without allocating for the
// events the client handles.
func internEvent(b []byte) string {
	switch string(b) {
	case phoenix.EventPostgres:
		return phoenix.EventPostgres
	case phoenix.EventBroadcast:
		return phoenix.EventBroadcast
	case phoenix.EventReply:
		return phoenix.EventReply
	case phoenix.EventSystem:
		return phoenix.EventSystem
	case "presence_state":
		return "presence_state"
	case "presence_diff":
		return "presence_diff"
	case phoenix.EventClose:
		return phoenix.EventClose
	case phoenix.EventError:
		return phoenix.EventError
	}
	return string(b)
}
