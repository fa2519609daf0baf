package client

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// The one place that reads error bodies understands PostgREST's, both of
// GoTrue's and the gateway's shapes, and maps them to the sentinels.
func TestNewErrorShapesAndSentinels(t *testing.T) {
	type want struct {
		code, msg, details, hint string
		version                  int64
		is                       []error
		isNot                    []error
	}
	cases := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   want
	}{
		{"postgrest rls insert", 403, nil,
			`{"code":"42501","details":null,"hint":null,"message":"new row violates row-level security policy for table \"projects\""}`,
			want{code: "42501", msg: `new row violates row-level security policy for table "projects"`,
				is: []error{ErrForbidden}, isNot: []error{ErrUnauthenticated, ErrNotFound, ErrValidation}}},
		{"postgrest version conflict", 409, nil,
			`{"code":"PT409","details":"current version is 7","hint":"read the project again","message":"project a/b was changed concurrently: version 3 is stale"}`,
			want{code: "PT409", details: "current version is 7", hint: "read the project again", version: 7,
				is: []error{ErrConflict, ErrVersionConflict}, isNot: []error{ErrValidation}}},
		{"document missing on conditional put", 409, nil,
			`{"code":"PT409","details":"the document does not exist","hint":"create it","message":"document n/a is not at version 2"}`,
			want{code: "PT409", details: "the document does not exist", hint: "create it",
				is: []error{ErrConflict, ErrVersionConflict}}},
		{"inactive environment is a conflict, not a version conflict", 409, nil,
			`{"code":"PT409","details":null,"hint":"activate it","message":"environment x is inactive"}`,
			want{code: "PT409", hint: "activate it", is: []error{ErrConflict}, isNot: []error{ErrVersionConflict}}},
		{"duplicate", 409, nil, `{"code":"23505","details":"Key (slug)=(a) already exists.","hint":null,"message":"duplicate key"}`,
			want{code: "23505", details: "Key (slug)=(a) already exists.", is: []error{ErrConflict}, isNot: []error{ErrVersionConflict}}},
		{"singular read of no row", 406, nil,
			`{"code":"PGRST116","details":"The result contains 0 rows","hint":null,"message":"JSON object requested, multiple (or no) rows returned"}`,
			want{code: "PGRST116", details: "The result contains 0 rows", is: []error{ErrNotFound}, isNot: []error{ErrValidation}}},
		{"raised not found", 404, nil, `{"code":"PT404","details":null,"hint":null,"message":"ticket x not found"}`,
			want{code: "PT404", is: []error{ErrNotFound}}},
		{"check violation", 400, nil, `{"code":"23514","details":"allowed: queued -> running","hint":"move through the allowed transitions","message":"status cannot change"}`,
			want{code: "23514", details: "allowed: queued -> running", hint: "move through the allowed transitions", is: []error{ErrValidation}}},
		{"expired jwt", 401, nil, `{"code":"PGRST303","details":null,"hint":null,"message":"JWT expired"}`,
			want{code: "PGRST303", is: []error{ErrUnauthenticated}, isNot: []error{ErrForbidden}}},
		{"gotrue new format", 400, http.Header{"X-Sb-Error-Code": {"invalid_credentials"}},
			`{"code":"invalid_credentials","message":"Invalid login credentials"}`,
			want{code: "invalid_credentials", msg: "Invalid login credentials", is: []error{ErrUnauthenticated}, isNot: []error{ErrValidation}}},
		{"gotrue old format", 400, nil, `{"code":400,"error_code":"refresh_token_not_found","msg":"Invalid Refresh Token: Refresh Token Not Found"}`,
			want{code: "refresh_token_not_found", msg: "Invalid Refresh Token: Refresh Token Not Found",
				is: []error{ErrUnauthenticated, ErrSessionExpired}, isNot: []error{ErrValidation}}},
		{"gotrue bad jwt", 403, http.Header{"X-Sb-Error-Code": {"bad_jwt"}}, `{"code":403,"error_code":"bad_jwt","msg":"invalid JWT"}`,
			want{code: "bad_jwt", msg: "invalid JWT", is: []error{ErrUnauthenticated}, isNot: []error{ErrForbidden}}},
		{"gateway acl", 403, nil, `{"message":"You cannot consume this service"}`,
			want{msg: "You cannot consume this service", is: []error{ErrForbidden}}},
		{"gateway key (Kong 2.8)", 401, nil, `{"message":"Invalid authentication credentials"}`,
			want{msg: "Invalid authentication credentials", is: []error{ErrUnauthenticated}}},
		{"gateway key (Kong 3.9: unknown or revoked key)", 401, http.Header{"Www-Authenticate": {"Key"}},
			`{"message":"Unauthorized","request_id":"8f0c1b2a-0000-4000-8000-000000000001"}`,
			want{msg: "Unauthorized", is: []error{ErrUnauthenticated}, isNot: []error{ErrSessionExpired}}},
		{"gateway key", 401, nil, "{\n  \"message\":\"Unauthorized\",\n  \"request_id\":\"5d6b…\"\n}",
			want{msg: "Unauthorized", is: []error{ErrUnauthenticated}}},
		{"unavailable", 503, nil, `{"message":"studio is not available in the embedded runtime"}`,
			want{msg: "studio is not available in the embedded runtime", is: []error{ErrUnavailable}}},
		{"not json", 502, nil, "<html>bad gateway</html>", want{msg: "<html>bad gateway</html>"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newError("do it", "GET", "http://x/rest/v1/t?select=*", tc.status, tc.header, []byte(tc.body))
			if e.StatusCode != tc.status || e.Code != tc.want.code || e.Details != tc.want.details || e.Hint != tc.want.hint || e.CurrentVersion != tc.want.version {
				t.Fatalf("got %+v, want %+v", e, tc.want)
			}
			if tc.want.msg != "" && e.Message != tc.want.msg {
				t.Fatalf("message %q, want %q", e.Message, tc.want.msg)
			}
			if e.URL != "http://x/rest/v1/t" {
				t.Fatalf("URL %q keeps its query", e.URL)
			}
			wrapped := fmt.Errorf("outer: %w", e)
			for _, s := range tc.want.is {
				if !errors.Is(wrapped, s) {
					t.Errorf("errors.Is(%v, %v) = false", e, s)
				}
			}
			for _, s := range tc.want.isNot {
				if errors.Is(wrapped, s) {
					t.Errorf("errors.Is(%v, %v) = true", e, s)
				}
			}
			if !strings.HasPrefix(e.Error(), "do it: ") || !strings.Contains(e.Error(), fmt.Sprintf("HTTP %d", tc.status)) {
				t.Errorf("message %q lacks the operation or status", e.Error())
			}
		})
	}
}

func TestErrorExplainsRole(t *testing.T) {
	e := &Error{Op: "delete project", StatusCode: 403, Code: "42501", Message: "permission denied",
		RequiredRole: "owner", CallerRole: "member", Account: "acme"}
	want := "delete project: permission denied; this needs the owner role in account acme and your role is member [HTTP 403 42501]"
	if e.Error() != want {
		t.Fatalf("%q\nwant %q", e.Error(), want)
	}
	e.CallerRole = ""
	if !strings.Contains(e.Error(), "you are not a member") {
		t.Fatalf("%q", e.Error())
	}
}

func TestUnreachableError(t *testing.T) {
	err := fmt.Errorf("list projects: %w", &UnreachableError{URL: "http://127.0.0.1:1", Err: errors.New("connection refused")})
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "http://127.0.0.1:1") {
		t.Fatalf("%v", err)
	}
	var ue *UnreachableError
	if !errors.As(err, &ue) || ue.URL != "http://127.0.0.1:1" {
		t.Fatalf("%v", err)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	k := keyset{T: "2026-11-30T00:17:50.123456Z", ID: "acaaecb3-209f-4717-9077-bc91bee28e1c"}
	got, err := decodeCursor(encodeCursor(k))
	if err != nil || got != k {
		t.Fatalf("%+v %v", got, err)
	}
	for _, bad := range []string{"", "!!", encodeCursor(keyset{T: "yesterday", ID: k.ID}), encodeCursor(keyset{T: k.T, ID: "x"})} {
		if _, err := decodeCursor(bad); !errors.Is(err, ErrValidation) {
			t.Errorf("cursor %q: %v", bad, err)
		}
	}
}

func TestSlugify(t *testing.T) {
	for in, want := range map[string]string{
		"Acme Corp": "acme-corp", "  --Déjà vu!! 2 ": "d-j-vu-2", "x": "x", "!!!": "",
		strings.Repeat("ab", 40): strings.Repeat("ab", 40),
	} {
		if got := Slugify(in); got != want {
			t.Errorf("Slugify(%q) = %q, want %q", in, got, want)
		}
	}
}

// CheckSlug agrees with create_account's rule and names the limit.
func TestCheckSlug(t *testing.T) {
	for slug, want := range map[string]string{
		"acme": "", "a": "", "a-b-9": "", strings.Repeat("a", 63): "",
		"":                      "empty",
		strings.Repeat("a", 64): "64 characters, at most 63",
		"-bad":                  "not starting or ending with a hyphen",
		"Acme":                  "lowercase",
	} {
		err := CheckSlug(slug)
		switch {
		case want == "" && err != nil:
			t.Errorf("CheckSlug(%q) = %v, want nil", slug, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrValidation)):
			t.Errorf("CheckSlug(%q) = %v, want an ErrValidation saying %q", slug, err, want)
		}
	}
}

// Error bodies come from the network: whatever the bytes, newError returns
// an *Error that keeps the status and prints without panicking, and the
// sentinels agree with the status where they are defined by it.
func FuzzNewError(f *testing.F) {
	for _, seed := range []struct {
		status int
		body   string
	}{
		{409, `{"code":"PT409","details":"current version is 7","hint":"retry","message":"stale"}`},
		{400, `{"code":400,"error_code":"refresh_token_not_found","msg":"Invalid Refresh Token"}`},
		{403, `{"message":"You cannot consume this service"}`},
		{406, `{"code":"PGRST116","details":"The result contains 0 rows","hint":null,"message":"JSON object requested"}`},
		{500, `not json at all`},
		{401, `{"code":["weird"],"details":{"a":1},"hint":7}`},
		{502, ``},
	} {
		f.Add(seed.status, seed.body)
	}
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 100 || status > 599 {
			return
		}
		e := newError("op", "GET", "http://h/p?q", status, nil, []byte(body))
		if e.StatusCode != status || e.Error() == "" || e.URL != "http://h/p" {
			t.Fatalf("%+v", e)
		}
		if errors.Is(e, ErrConflict) != (status == 409) {
			t.Fatalf("conflict mapping for %d", status)
		}
		if errors.Is(e, ErrUnavailable) != (status == 503) {
			t.Fatalf("unavailable mapping for %d", status)
		}
	})
}

// Cursors come back from callers: a bad one is ErrValidation, never a
// panic, and a good one round-trips.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(keyset{T: "2026-11-30T00:17:50.123456Z", ID: "acaaecb3-209f-4717-9077-bc91bee28e1c"}))
	f.Add(encodeCursor(keyset{K: "build/001"}))
	f.Add("")
	f.Add("e30")
	f.Fuzz(func(t *testing.T, c string) {
		k, err := decodeCursor(c)
		if err != nil {
			if !errors.Is(err, ErrValidation) {
				t.Fatalf("error %v is not ErrValidation", err)
			}
			return
		}
		if again, err := decodeCursor(encodeCursor(k)); err != nil || again != k {
			t.Fatalf("round trip %+v -> %+v %v", k, again, err)
		}
	})
}
