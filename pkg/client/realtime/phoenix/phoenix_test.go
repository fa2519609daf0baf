package phoenix

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestDecodeShapes(t *testing.T) {
	m, err := DecodeV1([]byte(`{"topic":"realtime:a","event":"phx_join","payload":{"x":1},"ref":"2","join_ref":"1"}`))
	if err != nil || m.Topic != "realtime:a" || m.Event != "phx_join" || RefString(m.Ref) != "2" || RefString(m.JoinRef) != "1" || string(m.Payload) != `{"x":1}` {
		t.Fatalf("DecodeV1 = %+v, %v", m, err)
	}
	m, err = DecodeV2([]byte(`["1","2","realtime:a","broadcast",{"type":"broadcast"}]`))
	if err != nil || m.Topic != "realtime:a" || RefString(m.JoinRef) != "1" || RefString(m.Ref) != "2" {
		t.Fatalf("DecodeV2 = %+v, %v", m, err)
	}
	m, err = DecodeV2([]byte(`[null,3,"phoenix","heartbeat",{}]`))
	if err != nil || !IsNull(m.JoinRef) || RefString(m.Ref) != "3" {
		t.Fatalf("DecodeV2 numeric ref = %+v, %v", m, err)
	}
	for _, bad := range []string{`[]`, `{}`, `["1","2",3,"e",{}]`, `[1,2,"t"]`, `{"topic":"t","event":"e","payload":{}}`, `x`, `null`} {
		if _, err := Decode(V2, []byte(bad)); err == nil && bad[0] == '[' {
			t.Errorf("DecodeV2(%s) accepted", bad)
		}
		if _, err := Decode(V1, []byte(bad)); err == nil && bad[0] != '[' {
			t.Errorf("DecodeV1(%s) accepted", bad)
		}
	}
}

func TestEncodeShapes(t *testing.T) {
	m := Message{JoinRef: StringRef("1"), Ref: StringRef("2"), Topic: "realtime:a", Event: "phx_reply", Payload: AppendReplyPayload(nil, "ok", json.RawMessage(`{}`))}
	if got := string(Encode(V1, m)); got != `{"topic":"realtime:a","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"2"}` {
		t.Errorf("V1 server frame %s", got)
	}
	if got := string(AppendV1(nil, m, true)); got != `{"topic":"realtime:a","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"2","join_ref":"1"}` {
		t.Errorf("V1 client frame %s", got)
	}
	if got := string(Encode(V2, m)); got != `["1","2","realtime:a","phx_reply",{"status":"ok","response":{}}]` {
		t.Errorf("V2 frame %s", got)
	}
	if got := string(Encode(V2, Message{Topic: "t", Event: "e"})); got != `[null,null,"t","e",{}]` {
		t.Errorf("V2 frame with absent refs %s", got)
	}
}

func TestBinaryBroadcastRoundTrip(t *testing.T) {
	push := &UserBroadcastPush{JoinRef: "1", Ref: "5", Topic: "realtime:room", Event: "cursor", Metadata: []byte(`{"id":"x"}`), JSON: true, Payload: []byte(`{"x":1}`)}
	data, err := AppendUserBroadcastPush(nil, push)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeBinary(data)
	if err != nil {
		t.Fatal(err)
	}
	if p := got.(*UserBroadcastPush); p.Topic != push.Topic || p.Event != push.Event || p.Ref != "5" || string(p.Payload) != `{"x":1}` || string(p.Metadata) != `{"id":"x"}` || !p.JSON {
		t.Fatalf("decoded %+v", p)
	}
	out, err := AppendUserBroadcast(nil, &UserBroadcast{Topic: "realtime:room", Event: "cursor", Payload: []byte{0, 1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	// The layout realtime-js decodes: kind 4, topic, event and metadata
	// sizes, encoding, then the bytes.
	want := append([]byte{4, 13, 6, 0, 0}, []byte("realtime:roomcursor")...)
	want = append(want, 0, 1, 2)
	if !bytes.Equal(out, want) {
		t.Fatalf("kind 4 frame %v, want %v", out, want)
	}
	ub, err := DecodeUserBroadcast(out)
	if err != nil || ub.JSON || !bytes.Equal(ub.Payload, []byte{0, 1, 2}) {
		t.Fatalf("DecodeUserBroadcast = %+v, %v", ub, err)
	}
	long := string(make([]byte, 256))
	if _, err := AppendUserBroadcast(nil, &UserBroadcast{Topic: long}); err == nil {
		t.Error("a 256-byte topic was encoded")
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote\`, "tab\tnl\n\x00\x1f", "é ü 漢字 🙂", "\u2028\u2029", "bad\xffutf8", "<>&"} {
		var back string
		if err := json.Unmarshal(AppendString(nil, s), &back); err != nil {
			t.Fatalf("AppendString(%q) = %s: %v", s, AppendString(nil, s), err)
		}
		if utf8.ValidString(s) && back != s {
			t.Errorf("round trip of %q gave %q", s, back)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"topic":"realtime:a","event":"phx_join","payload":{"config":{}},"ref":"1","join_ref":"1"}`,
		`["1","1","realtime:a","phx_join",{"config":{"postgres_changes":[]}}]`,
		`[null,"2","phoenix","heartbeat",{}]`, `{}`, `[]`, `"x"`, `{"topic":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, vsn := range []string{V1, V2} {
			m, err := Decode(vsn, data)
			if err != nil {
				continue
			}
			// What decodes re-encodes (as a client would) to the same message.
			var enc []byte
			if vsn == V1 {
				enc = AppendV1(nil, m, true)
			} else {
				enc = AppendV2(nil, m)
			}
			if !json.Valid(enc) {
				t.Fatalf("re-encoding %q gave invalid JSON %q", data, enc)
			}
			m2, err := Decode(vsn, enc)
			if err != nil || m2.Event != m.Event || (utf8.ValidString(m.Topic) && m2.Topic != m.Topic) {
				t.Fatalf("round trip of %q: %+v, %v", data, m2, err)
			}
		}
	})
}

func FuzzDecodeBinary(f *testing.F) {
	seed, _ := AppendUserBroadcastPush(nil, &UserBroadcastPush{JoinRef: "1", Ref: "2", Topic: "realtime:r", Event: "e", JSON: true, Payload: []byte(`{}`)})
	f.Add(seed)
	f.Add([]byte{0, 1, 1, 1, 1, 'a', 'b', 'c', 'd', 'x'})
	f.Add([]byte{4, 1, 1, 0, 1, 't', 'e', '{', '}'})
	f.Add([]byte{3})
	f.Fuzz(func(t *testing.T, data []byte) {
		if v, err := DecodeBinary(data); err == nil {
			if p, ok := v.(*UserBroadcastPush); ok {
				enc, err := AppendUserBroadcastPush(nil, p)
				if err != nil {
					t.Fatalf("re-encode %+v: %v", p, err)
				}
				if !bytes.Equal(enc, data) {
					t.Fatalf("round trip of %v gave %v", data, enc)
				}
			}
		}
		_, _ = DecodeUserBroadcast(data)
	})
}
