package gateway

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fuzzSeeds is the loader's seed corpus: testdata/kong/*.yml and the
// repository's kong.yml.
func fuzzSeeds(t testing.TB) map[string]string {
	t.Helper()
	files, err := filepath.Glob("testdata/kong/*.yml")
	require.NoError(t, err)
	files = append(files, repoKongYML)
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		out[f] = string(b)
	}
	return out
}

var fuzzEnv = map[string]string{
	"ANON": "anon-key", "SERVICE": "service-key", "DASH_USER": "u", "DASH_PASS": "p",
	"SUPABASE_ANON_KEY": "anon-key", "SUPABASE_SERVICE_KEY": "service-key",
	"DASHBOARD_USERNAME": "u", "DASHBOARD_PASSWORD": "p",
	"SUPABASE_PUBLISHABLE_KEY": "sb_publishable_key", "SUPABASE_SECRET_KEY": "sb_secret_key",
	"ANON_KEY_ASYMMETRIC": "anon-jwt", "SERVICE_ROLE_KEY_ASYMMETRIC": "service-jwt",
}

// Every seed is a valid configuration (so the fuzzer starts from the
// interesting part of the input space).
func TestFuzzSeedsAreValid(t *testing.T) {
	seeds := fuzzSeeds(t)
	require.GreaterOrEqual(t, len(seeds), 6)
	for name, data := range seeds {
		cfg, err := Parse([]byte(data), name, fuzzEnv)
		require.NoError(t, err, name)
		_, err = New(cfg, Options{})
		require.NoError(t, err, name)
	}
}

// FuzzParse feeds the loader arbitrary documents: it must never panic, every
// failure must be a ConfigError naming the file and a line, and whatever it
// accepts must build a gateway that serves requests without panicking.
func FuzzParse(f *testing.F) {
	for _, data := range fuzzSeeds(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data string) {
		cfg, err := Parse([]byte(data), "fuzz.yml", fuzzEnv)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error is not a *ConfigError: %v", err)
			}
			if ce.File != "fuzz.yml" || ce.Line < 1 || !strings.HasPrefix(err.Error(), "fuzz.yml:") {
				t.Fatalf("error does not name file and line: %q", err)
			}
			return
		}
		ups := map[string]http.Handler{}
		for _, h := range cfg.UpstreamHosts() {
			ups[h] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusNoContent)
			})
		}
		g, err := New(cfg, Options{Upstreams: ups, MaxBodyBytes: 64})
		if err != nil {
			t.Fatalf("New rejected a parsed configuration: %v", err)
		}
		reqs := []*http.Request{
			httptest.NewRequest(http.MethodGet, "/", nil),
			httptest.NewRequest(http.MethodGet, "/rest/v1/x?apikey=anon-key&a=1", nil),
			httptest.NewRequest(http.MethodPost, "/api/x?id=1", strings.NewReader(strings.Repeat("b", 100))),
			httptest.NewRequest(http.MethodOptions, "/a/b", nil),
		}
		reqs[0].Header.Set("Authorization", basic("u", "p"))
		reqs[1].Header.Set("Origin", "http://localhost")
		reqs[2].Header.Set("apikey", "service-key")
		reqs[3].Header.Set("Origin", "https://app.example.com")
		reqs[3].Header.Set("Access-Control-Request-Method", "GET")
		for _, r := range reqs {
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, r)
			if rec.Header().Get("X-Request-Id") == "" {
				t.Fatalf("%s %s: no X-Request-Id", r.Method, r.URL)
			}
		}
	})
}

// FuzzTemplate: compiling and rendering arbitrary templates never panics.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		"$((headers.apikey and 'Bearer ' .. headers.apikey) or (query_params.apikey and 'Bearer ' .. query_params.apikey))",
		"$((headers.authorization ~= nil and headers.authorization:sub(1, 10) ~= 'Bearer sb_' and headers.authorization) or headers.apikey)",
		"x-$(#headers.x_multi)-$(query_params.list[2]:upper())",
		"$(not (1 < 2) == false)",
		"$(-headers.n .. 'x')",
	} {
		f.Add(s, "Bearer sb_x")
	}
	f.Fuzz(func(t *testing.T, src, header string) {
		tpl, err := compileTemplate(src)
		if err != nil {
			return
		}
		env := templateTestEnv()
		env.headers.(*headerTable).h.Set("Authorization", header)
		env.headers.(*headerTable).h.Set("N", header)
		_, _ = tpl.render(env)
	})
}

// FuzzNormalizePath: a normalised path is absolute, has no empty, "." or
// ".." segments, and normalising it again changes nothing.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "//x//y/", "/%2e%2E/%2F/./z", "/a/b/..", "/rest/v1/todos", "/%zz", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		n, ok := normalizePath(p)
		if !ok {
			return
		}
		if !strings.HasPrefix(n, "/") || strings.Contains(n, "//") {
			t.Fatalf("%q → %q", p, n)
		}
		for _, seg := range strings.Split(strings.Trim(n, "/"), "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("%q → %q keeps a dot segment", p, n)
			}
		}
		if again, ok := normalizePath(n); !ok || again != n {
			t.Fatalf("not idempotent: %q → %q → %q", p, n, again)
		}
	})
}

// FuzzExpression: the route expression parser never panics, and what it
// accepts evaluates without panicking.
func FuzzExpression(f *testing.F) {
	for _, s := range []string{
		`http.path == "/rest/v1/"`,
		`(http.method == "GET" || http.method == "HEAD") && http.path ^= "/a"`,
		`!(http.host =^ ".internal") && http.path != r#"/x"#`,
		`http.path == "a\"b\\c\n"`,
		`lower(http.host) == "x"`,
	} {
		f.Add(s, "/rest/v1/")
	}
	f.Fuzz(func(t *testing.T, src, path string) {
		e, err := parseExpression(src)
		if err != nil {
			return
		}
		r := exprRequest{path: path, host: "h", method: "GET"}
		if e.eval(&r) && r.matched != "" && !strings.HasPrefix(path, r.matched) {
			t.Fatalf("%q matched %q, which is not a prefix of %q", src, r.matched, path)
		}
	})
}
