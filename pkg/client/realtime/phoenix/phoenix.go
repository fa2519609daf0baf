// Package phoenix encodes and decodes the frames of the Phoenix channels
// protocol as Supabase Realtime speaks it: vsn 1.0.0 JSON objects, vsn 2.0.0
// JSON arrays, and the vsn 2.0.0 binary broadcast frames realtime-js sends
// and receives for broadcast messages.
//
// It is shared by the Realtime client (pkg/client/realtime) and the embedded server
// (pkg/server/realtimeserver) so both read the same grammar; the decoders face
// the network and are fuzzed.
package phoenix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Protocol versions, as sent in the vsn query parameter.
const (
	V1 = "1.0.0"
	V2 = "2.0.0"
)

// Well-known events and topics.
const (
	EventJoin        = "phx_join"
	EventLeave       = "phx_leave"
	EventReply       = "phx_reply"
	EventClose       = "phx_close"
	EventError       = "phx_error"
	EventHeartbeat   = "heartbeat"
	EventAccessToken = "access_token"
	EventBroadcast   = "broadcast"
	EventPresence    = "presence"
	EventSystem      = "system"
	EventPostgres    = "postgres_changes"
	TopicPhoenix     = "phoenix"
)

// Binary frame kinds of the vsn 2.0.0 serializer.
const (
	KindPush              = 0
	KindReply             = 1
	KindBroadcast         = 2
	KindUserBroadcastPush = 3 // client → server broadcast
	KindUserBroadcast     = 4 // server → client broadcast
)

// Message is one Phoenix message. JoinRef and Ref hold the raw JSON of the
// references (usually strings; nil or "null" when absent) so a server can
// echo exactly what a client sent.
type Message struct {
	JoinRef json.RawMessage
	Ref     json.RawMessage
	Topic   string
	Event   string
	Payload json.RawMessage
}

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed phoenix message")

// Null is the JSON null reference.
var Null = json.RawMessage("null")

// StringRef returns the JSON form of a string reference.
func StringRef(s string) json.RawMessage { return AppendString(nil, s) }

// RefString returns a reference as a string: the string itself, the number
// as written, or "" for null or absent.
func RefString(r json.RawMessage) string {
	r = bytes.TrimSpace(r)
	if len(r) == 0 || string(r) == "null" {
		return ""
	}
	if r[0] == '"' {
		var s string
		if err := json.Unmarshal(r, &s); err == nil {
			return s
		}
	}
	return string(r)
}

// IsNull reports whether a reference is absent or JSON null.
func IsNull(r json.RawMessage) bool {
	r = bytes.TrimSpace(r)
	return len(r) == 0 || string(r) == "null"
}

// SameRef reports whether two references denote the same value.
func SameRef(a, b json.RawMessage) bool {
	if IsNull(a) || IsNull(b) {
		return IsNull(a) && IsNull(b)
	}
	return RefString(a) == RefString(b)
}

// DecodeV1 decodes a vsn 1.0.0 text frame: a JSON object with topic, event,
// payload and ref (join_ref optional), the keys Phoenix requires.
func DecodeV1(data []byte) (Message, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if raw == nil {
		return Message{}, fmt.Errorf("%w: expected a JSON object", ErrMalformed)
	}
	for _, k := range []string{"topic", "event", "payload", "ref"} {
		if _, ok := raw[k]; !ok {
			return Message{}, fmt.Errorf("%w: missing key %q", ErrMalformed, k)
		}
	}
	var m Message
	if err := json.Unmarshal(raw["topic"], &m.Topic); err != nil {
		return Message{}, fmt.Errorf("%w: topic must be a string", ErrMalformed)
	}
	if err := json.Unmarshal(raw["event"], &m.Event); err != nil {
		return Message{}, fmt.Errorf("%w: event must be a string", ErrMalformed)
	}
	m.Payload = raw["payload"]
	m.Ref = raw["ref"]
	m.JoinRef = raw["join_ref"]
	return m, nil
}

// DecodeV2 decodes a vsn 2.0.0 text frame: [join_ref, ref, topic, event, payload].
func DecodeV2(data []byte) (Message, error) {
	var arr []json.RawMessage
	if err := json.Unmarshal(data, &arr); err != nil {
		return Message{}, fmt.Errorf("%w: expected a JSON array: %v", ErrMalformed, err)
	}
	if len(arr) < 5 {
		return Message{}, fmt.Errorf("%w: expected an array of 5 elements, got %d", ErrMalformed, len(arr))
	}
	var m Message
	if err := json.Unmarshal(arr[2], &m.Topic); err != nil {
		return Message{}, fmt.Errorf("%w: topic must be a string", ErrMalformed)
	}
	if err := json.Unmarshal(arr[3], &m.Event); err != nil {
		return Message{}, fmt.Errorf("%w: event must be a string", ErrMalformed)
	}
	m.JoinRef, m.Ref, m.Payload = arr[0], arr[1], arr[4]
	return m, nil
}

// Decode decodes a text frame of the given protocol version.
func Decode(vsn string, data []byte) (Message, error) {
	if vsn == V1 {
		return DecodeV1(data)
	}
	return DecodeV2(data)
}

// AppendV1 appends the vsn 1.0.0 encoding of m. withJoinRef is false for
// frames a server sends (Phoenix's V1 serializer drops join_ref) and true for
// frames a client sends.
func AppendV1(dst []byte, m Message, withJoinRef bool) []byte {
	dst = append(dst, `{"topic":`...)
	dst = AppendString(dst, m.Topic)
	dst = append(dst, `,"event":`...)
	dst = AppendString(dst, m.Event)
	dst = append(dst, `,"payload":`...)
	dst = appendRaw(dst, m.Payload, "{}")
	dst = append(dst, `,"ref":`...)
	dst = appendRaw(dst, m.Ref, "null")
	if withJoinRef {
		dst = append(dst, `,"join_ref":`...)
		dst = appendRaw(dst, m.JoinRef, "null")
	}
	return append(dst, '}')
}

// AppendV2 appends the vsn 2.0.0 text encoding of m.
func AppendV2(dst []byte, m Message) []byte {
	dst = append(dst, '[')
	dst = appendRaw(dst, m.JoinRef, "null")
	dst = append(dst, ',')
	dst = appendRaw(dst, m.Ref, "null")
	dst = append(dst, ',')
	dst = AppendString(dst, m.Topic)
	dst = append(dst, ',')
	dst = AppendString(dst, m.Event)
	dst = append(dst, ',')
	dst = appendRaw(dst, m.Payload, "{}")
	return append(dst, ']')
}

// Encode encodes m for the given protocol version (server side for V1).
func Encode(vsn string, m Message) []byte {
	if vsn == V1 {
		return AppendV1(nil, m, false)
	}
	return AppendV2(nil, m)
}

func appendRaw(dst []byte, raw json.RawMessage, def string) []byte {
	if len(raw) == 0 {
		return append(dst, def...)
	}
	return append(dst, raw...)
}

// UserBroadcastPush is the binary broadcast a vsn 2.0.0 client sends
// (kind 3): the user event, an optional JSON metadata object and the user
// payload, JSON or opaque bytes.
type UserBroadcastPush struct {
	JoinRef  string
	Ref      string
	Topic    string
	Event    string
	Metadata []byte // raw JSON object, empty when absent
	JSON     bool   // payload encoding: JSON (true) or binary
	Payload  []byte
}

// UserBroadcast is the binary broadcast a vsn 2.0.0 server sends (kind 4).
type UserBroadcast struct {
	Topic    string
	Event    string
	Metadata []byte
	JSON     bool
	Payload  []byte
}

// BinaryPush is a binary push from a client (kind 0): an event whose payload
// is opaque bytes.
type BinaryPush struct {
	JoinRef string
	Ref     string
	Topic   string
	Event   string
	Payload []byte
}

// DecodeBinary decodes a binary frame sent by a client: a *UserBroadcastPush
// or a *BinaryPush.
func DecodeBinary(data []byte) (any, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty binary frame", ErrMalformed)
	}
	switch data[0] {
	case KindUserBroadcastPush:
		if len(data) < 7 {
			return nil, fmt.Errorf("%w: short user broadcast header", ErrMalformed)
		}
		sizes := []int{int(data[1]), int(data[2]), int(data[3]), int(data[4]), int(data[5])}
		enc := data[6]
		fields, rest, err := splitFields(data[7:], sizes)
		if err != nil {
			return nil, err
		}
		if enc > 1 {
			return nil, fmt.Errorf("%w: unknown payload encoding %d", ErrMalformed, enc)
		}
		if len(fields[4]) > 0 && !json.Valid(fields[4]) {
			return nil, fmt.Errorf("%w: metadata is not JSON", ErrMalformed)
		}
		return &UserBroadcastPush{
			JoinRef: string(fields[0]), Ref: string(fields[1]), Topic: string(fields[2]),
			Event: string(fields[3]), Metadata: fields[4], JSON: enc == 1, Payload: rest,
		}, nil
	case KindPush:
		if len(data) < 5 {
			return nil, fmt.Errorf("%w: short push header", ErrMalformed)
		}
		sizes := []int{int(data[1]), int(data[2]), int(data[3]), int(data[4])}
		fields, rest, err := splitFields(data[5:], sizes)
		if err != nil {
			return nil, err
		}
		return &BinaryPush{JoinRef: string(fields[0]), Ref: string(fields[1]), Topic: string(fields[2]),
			Event: string(fields[3]), Payload: rest}, nil
	default:
		return nil, fmt.Errorf("%w: unknown binary frame kind %d", ErrMalformed, data[0])
	}
}

// DecodeUserBroadcast decodes a binary broadcast sent by a server (kind 4).
func DecodeUserBroadcast(data []byte) (*UserBroadcast, error) {
	if len(data) < 5 || data[0] != KindUserBroadcast {
		return nil, fmt.Errorf("%w: not a user broadcast frame", ErrMalformed)
	}
	sizes := []int{int(data[1]), int(data[2]), int(data[3])}
	enc := data[4]
	fields, rest, err := splitFields(data[5:], sizes)
	if err != nil {
		return nil, err
	}
	return &UserBroadcast{Topic: string(fields[0]), Event: string(fields[1]), Metadata: fields[2],
		JSON: enc == 1, Payload: rest}, nil
}

func splitFields(b []byte, sizes []int) ([][]byte, []byte, error) {
	out := make([][]byte, len(sizes))
	for i, n := range sizes {
		if len(b) < n {
			return nil, nil, fmt.Errorf("%w: binary frame shorter than its header says", ErrMalformed)
		}
		out[i] = b[:n:n]
		b = b[n:]
	}
	return out, b, nil
}

// AppendUserBroadcast appends the kind 4 encoding of b. Topic, event and
// metadata longer than 255 bytes cannot be represented.
func AppendUserBroadcast(dst []byte, b *UserBroadcast) ([]byte, error) {
	if len(b.Topic) > 255 || len(b.Event) > 255 || len(b.Metadata) > 255 {
		return dst, errors.New("phoenix: topic, event and metadata of a binary broadcast must be at most 255 bytes")
	}
	enc := byte(0)
	if b.JSON {
		enc = 1
	}
	dst = append(dst, KindUserBroadcast, byte(len(b.Topic)), byte(len(b.Event)), byte(len(b.Metadata)), enc)
	dst = append(dst, b.Topic...)
	dst = append(dst, b.Event...)
	dst = append(dst, b.Metadata...)
	return append(dst, b.Payload...), nil
}

// AppendUserBroadcastPush appends the kind 3 encoding of p.
func AppendUserBroadcastPush(dst []byte, p *UserBroadcastPush) ([]byte, error) {
	for _, s := range []int{len(p.JoinRef), len(p.Ref), len(p.Topic), len(p.Event), len(p.Metadata)} {
		if s > 255 {
			return dst, errors.New("phoenix: refs, topic, event and metadata of a binary broadcast must be at most 255 bytes")
		}
	}
	enc := byte(0)
	if p.JSON {
		enc = 1
	}
	dst = append(dst, KindUserBroadcastPush, byte(len(p.JoinRef)), byte(len(p.Ref)), byte(len(p.Topic)),
		byte(len(p.Event)), byte(len(p.Metadata)), enc)
	dst = append(dst, p.JoinRef...)
	dst = append(dst, p.Ref...)
	dst = append(dst, p.Topic...)
	dst = append(dst, p.Event...)
	dst = append(dst, p.Metadata...)
	return append(dst, p.Payload...), nil
}

// AppendString appends s as a JSON string. Invalid UTF-8 is replaced by
// U+FFFD, as encoding/json does.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, `\u00`...)
				dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// Reply is the payload of a phx_reply.
type Reply struct {
	Status   string          `json:"status"`
	Response json.RawMessage `json:"response"`
}

// AppendReplyPayload appends {"status":status,"response":response}.
func AppendReplyPayload(dst []byte, status string, response json.RawMessage) []byte {
	dst = append(dst, `{"status":`...)
	dst = AppendString(dst, status)
	dst = append(dst, `,"response":`...)
	dst = appendRaw(dst, response, "{}")
	return append(dst, '}')
}

// Ref returns the JSON string reference for a counter value.
func Ref(n uint64) json.RawMessage { return StringRef(strconv.FormatUint(n, 10)) }
