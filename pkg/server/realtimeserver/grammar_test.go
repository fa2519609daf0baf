package realtimeserver

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/pkg/jwtkeys"
)

// TestParseFilters follows the examples of the official server's parser.
func TestParseFilters(t *testing.T) {
	cases := []struct {
		in   string
		want string // fmt of []filterSpec, or "error: …"
	}{
		{"subject=eq.hey", `[{subject eq hey false}]`},
		{"subject=in.(hidee,ho)", `[{subject in {hidee,ho} false}]`},
		{"subject=not.like.hey%", `[{subject like hey% true}]`},
		{"id=gt.0,id=lt.100", `[{id gt 0 false} {id lt 100 false}]`},
		{"", `[]`},
		{"   ", `[]`},
		{`name=eq."a,b"`, `[{name eq a,b false}]`},
		{`name=eq."a\"b"`, `[{name eq a"b false}]`},
		{`name=in.("a,b",c)`, `[{name in {"a,b",c} false}]`},
		{`a=eq.1, b=eq.2`, `[{a eq 1 false} {b eq 2 false}]`},
		{`x=eq.a=b.c`, `[{x eq a=b.c false}]`},
		{"subject=foo.hey", `error: ["foo", "hey"]`},
		{"undefined", `error: ["undefined"]`},
		{"id=eq", `error: ["id", "eq"]`},
		{"id=in.1,2", "error: `in` filter value must be wrapped by parentheses"},
		{"a=eq.1,,b=eq.2", "error: filter must not contain empty segments (check for extra commas)"},
	}
	for _, tc := range cases {
		fs, err := parseFilters(tc.in)
		got := fmt.Sprint(fs)
		if fs == nil {
			got = "[]"
		}
		if err != nil {
			got = "error: " + err.Error()
		}
		if got != tc.want {
			t.Errorf("parseFilters(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestCompareValues(t *testing.T) {
	cases := []struct {
		kind cmpKind
		a, b string
		want int
	}{
		{cmpInt, "9", "10", -1},
		{cmpNumeric, "1.50", "1.5", 0},
		{cmpNumeric, "NaN", "1e100", 1},
		{cmpNumeric, "-Infinity", "-1e100", -1},
		{cmpFloat, "NaN", "NaN", 0},
		{cmpFloat, "2.5", "10", -1},
		{cmpTimestamptz, "2024-01-02 00:00:00+00", "2024-01-02 01:00:00+01", 0},
		{cmpTimestamptz, "2024-01-02 00:00:00.5+00", "2024-01-02 00:00:00+00", 1},
		{cmpTimestamptz, "infinity", "9999-01-01 00:00:00+00", 1},
		{cmpDate, "2024-02-01", "2024-10-01", -1},
		{cmpTime, "09:00:00", "10:00:00.5", -1},
		{cmpBpchar, "ab   ", "ab", 0},
		{cmpText, "B", "a", -1},
		{cmpBool, "t", "f", 1},
	}
	for _, tc := range cases {
		if got := compareValues(tc.kind, tc.a, tc.b); got != tc.want {
			t.Errorf("compareValues(%d, %q, %q) = %d, want %d", tc.kind, tc.a, tc.b, got, tc.want)
		}
	}
}

func TestAppendValue(t *testing.T) {
	text := &typeInfo{name: "text", kind: jsonString}
	num := &typeInfo{name: "numeric", kind: jsonNumber}
	cases := []struct {
		t    *typeInfo
		in   string
		want string
	}{
		{num, "12.50", `12.50`},
		{num, "NaN", `null`},
		{&typeInfo{kind: jsonNumber}, "-Infinity", `null`},
		{&typeInfo{kind: jsonBool}, "t", `true`},
		{&typeInfo{kind: jsonRaw}, `{"a": [1, 2]}`, `{"a": [1, 2]}`},
		{&typeInfo{kind: jsonBytea}, `\xdeadbeef`, `"deadbeef"`},
		{&typeInfo{kind: jsonTimestamptz}, "2024-05-01 10:00:00.5+00", `"2024-05-01T10:00:00.5+00:00"`},
		{&typeInfo{kind: jsonTimestamptz}, "2024-05-01 10:00:00+05:30", `"2024-05-01T10:00:00+05:30"`},
		{&typeInfo{kind: jsonTimestamp}, "2024-05-01 10:00:00", `"2024-05-01T10:00:00"`},
		{&typeInfo{kind: jsonTimetz}, "10:00:00+02", `"10:00:00+02:00"`},
		{&typeInfo{kind: jsonArray, elem: text}, `{a,"b c",NULL,"NULL",""}`, `["a","b c",null,"NULL",""]`},
		{&typeInfo{kind: jsonArray, elem: num}, `{{1,2},{3,NULL}}`, `[[1,2],[3,null]]`},
		{&typeInfo{kind: jsonArray, elem: num}, `[0:1]={1,2}`, `[1,2]`},
		{&typeInfo{kind: jsonArray, elem: text}, `{}`, `[]`},
		{&typeInfo{kind: jsonArray, elem: text}, `{"unterminated}`, `"{\"unterminated}"`},
		{text, "line\nbreak", `"line\nbreak"`},
	}
	for _, tc := range cases {
		if got := string(appendValue(nil, tc.t, tc.in)); got != tc.want {
			t.Errorf("appendValue(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestVerifyToken(t *testing.T) {
	now := time.Now()
	good := signToken(map[string]any{"role": "authenticated", "sub": "u"}, time.Hour)
	a, err := verifyToken(jwtkeys.LegacySet(testSecret), " "+good+"\n", now)
	if err != nil || a.role != "authenticated" || !strings.Contains(string(a.claims), `"sub":"u"`) {
		t.Fatalf("verifyToken(good) = %+v, %v", a, err)
	}
	if _, err := verifyToken(jwtkeys.LegacySet([]byte("another-secret-another-secret-xx")), good, now); err != errTokenSignature {
		t.Errorf("wrong secret: %v", err)
	}
	exp := signToken(map[string]any{"role": "anon", "exp": now.Add(-42 * time.Second).Unix()}, 0)
	if _, err := verifyToken(jwtkeys.LegacySet(testSecret), exp, now); err == nil || err.Error() != "InvalidJWTToken: Token has expired 42 seconds ago" {
		t.Errorf("expired: %v", err)
	}
}

func FuzzParseFilters(f *testing.F) {
	for _, s := range []string{"id=eq.1", `a=in.(1,"2,3")`, "x=not.isdistinct.5,y=gte.2024-01-01", `v=eq."a\"b",w=like.%x_`, ",", "=", "a=b.c.d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fs, err := parseFilters(s)
		if err != nil {
			return
		}
		if len(fs) > len(s) {
			t.Fatalf("%d filters from %d bytes", len(fs), len(s))
		}
		for _, f := range fs {
			if !filterOps[f.Op] {
				t.Fatalf("parsed operator %q from %q", f.Op, s)
			}
			if f.Op == "in" && !(strings.HasPrefix(f.Value, "{") && strings.HasSuffix(f.Value, "}")) {
				t.Fatalf("in value %q from %q", f.Value, s)
			}
		}
	})
}

func FuzzAppendValue(f *testing.F) {
	for _, s := range []string{`{a,"b",NULL}`, `{{1},{2}}`, "12.5", `\x00ff`, "2024-01-01 00:00:00+00", `{"k": 1}`, "NaN", `[1:1]={1}`} {
		f.Add(s)
	}
	kinds := []*typeInfo{
		{kind: jsonString}, {kind: jsonNumber}, {kind: jsonBool}, {kind: jsonRaw}, {kind: jsonBytea},
		{kind: jsonTimestamptz}, {kind: jsonTimestamp}, {kind: jsonTimetz},
		{kind: jsonArray, elem: &typeInfo{kind: jsonNumber}}, {kind: jsonArray, elem: &typeInfo{kind: jsonString}},
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range kinds {
			if out := appendValue(nil, k, s); !json.Valid(out) {
				t.Fatalf("appendValue(kind %d, %q) = %q: not JSON", k.kind, s, out)
			}
		}
	})
}
