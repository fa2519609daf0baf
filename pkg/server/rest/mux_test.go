package rest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// muxSQL adds a read-only function that reports what the request's
// transaction sees (role, claims, headers, method, path, the Prefer
// timezone) and one that fails after setting a local GUC, to look for
// anything leaking from one pipeline into the next on a shared connection.
const muxSQL = `
create function public.probe() returns json language sql stable as $$
  select json_build_object(
    'role', current_user,
    'sub', auth.uid(),
    'probe', current_setting('request.headers', true)::json->>'x-probe',
    'method', current_setting('request.method', true),
    'path', current_setting('request.path', true),
    'timezone', current_setting('timezone'),
    'leak', current_setting('sfp.leak', true),
    'pid', pg_backend_pid())
$$;
create function public.fail_after_set() returns int language plpgsql stable as $$
begin
  perform set_config('sfp.leak', 'leaked', true);
  raise exception 'probe failure' using errcode = 'P0001';
end $$;
grant execute on function public.probe(), public.fail_after_set() to anon, authenticated;
`

// sharedEnv serves the fixture with reads sharing conns connections of a
// pool of 8.
func sharedEnv(t *testing.T, conns, depth int) *env {
	t.Helper()
	db := newPgDB(t)
	db.Exec(t, librarySQL)
	db.Exec(t, muxSQL)
	pool := authenticatorPool(t, db, 8)
	return startEnv(t, db, func(c *Config) {
		c.Pool = pool
		c.SharedReadConns = conns
		c.SharedReadDepth = depth
	})
}

// get is a request that may run off the test's goroutine: errors are
// returned, not reported.
func (e *env) get(path, token string, headers ...string) (int, []byte, error) {
	req, err := http.NewRequest("GET", e.http.URL+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

type probeOut struct {
	Role, Sub, Probe, Method, Path, Timezone string
	Leak                                     *string
	PID                                      int
}

// TestSharedReadsStayApart: hundreds of concurrent reads from different
// users, with different headers and timezones, some failing after setting
// a GUC, on one shared connection: every answer is its own request's, and
// nothing of one transaction is seen by the next.
func TestSharedReadsStayApart(t *testing.T) {
	e := sharedEnv(t, 1, 8)
	users := []string{uidUrsula, uidTerry, uidReader}
	zones := []string{"UTC", "Europe/Amsterdam", "America/New_York"}
	// The first request naming a time zone reads the zone names (zones.go);
	// read them before the burst, which would otherwise all wait for that
	// one read and arrive at once.
	if status, body, err := e.get("/rpc/probe", e.anon, "X-Probe", "warm-up", "Prefer", "timezone=UTC"); err != nil || status != 200 {
		t.Fatalf("warm-up read: %d %s %v", status, body, err)
	}
	const n = 300
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if i%5 == 4 {
				status, body, err := e.get("/rpc/fail_after_set", userJWT(users[i%3]))
				switch {
				case err != nil:
					errs <- err
				case status != 400 || !strings.Contains(string(body), `"P0001"`):
					errs <- fmt.Errorf("failing read %d: %d %s", i, status, body)
				}
				return
			}
			tok, role, sub := userJWT(users[i%3]), "authenticated", users[i%3]
			if i%7 == 0 {
				tok, role, sub = e.anon, "anon", ""
			}
			probe := fmt.Sprintf("req-%d", i)
			zone := zones[i%3]
			status, body, err := e.get("/rpc/probe", tok, "X-Probe", probe, "Prefer", "timezone="+zone)
			if err != nil {
				errs <- err
				return
			}
			var got probeOut
			if status != 200 || json.Unmarshal(body, &got) != nil {
				errs <- fmt.Errorf("read %d: %d %s", i, status, body)
				return
			}
			if got.Role != role || got.Sub != sub || got.Probe != probe || got.Method != "GET" ||
				got.Path != "/rpc/probe" || got.Timezone != zone || (got.Leak != nil && *got.Leak != "") {
				errs <- fmt.Errorf("read %d (%s, %s, %s) saw %s", i, role, probe, zone, body)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	shared := e.srv.exec.Stats().SharedReads
	if shared == 0 {
		t.Fatalf("no read ran on the shared connection")
	}
	t.Logf("%d of %d reads ran on the shared connection", shared, n)
	// Writes never share: an insert and its read-back still work.
	e.do("POST", "/authors", userJWT(uidReader), `{"id": 99, "name": "Shared", "user_id": "`+uidReader+`"}`,
		"Prefer", "return=minimal").expect(t, "write", 201, "")
	e.do("GET", "/authors?select=name&id=eq.99", e.anon, "").expect(t, "read back", 200, `[{"name":"Shared"}]`)
}
