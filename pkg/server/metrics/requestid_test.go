package metrics_test

import (
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"
)

// One request can be followed across components by the id the gateway
// answers with: the gateway's access line, the realtime server's lines
// about the socket, and, inside PostgreSQL, the request.headers setting
// and the application_name REST gives the request's statements — the
// latter also in postgres.log's lines.
func TestRequestIDAcrossComponents(t *testing.T) {
	s, ctx := sharedStack(t, 2*time.Minute)

	// Realtime: a socket dropped without a close frame is logged with
	// the id of the request that opened it.
	ws, _, err := websocket.Dial(ctx, strings.Replace(s.URL, "http", "ws", 1)+"/realtime/v1/websocket?vsn=1.0.0&apikey="+s.AnonKey,
		&websocket.DialOptions{HTTPHeader: http.Header{"X-Request-Id": {"trace-socket-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	ws.CloseNow()
	// Both lines come once the socket is gone: the gateway's when its
	// request (the upgrade) ends, after realtime's.
	realtimeLine := func(rec map[string]any) bool {
		return rec["component"] == "realtime" && rec["request_id"] == "trace-socket-1"
	}
	gatewayLine := func(rec map[string]any) bool {
		return rec["component"] == "gateway" && rec["request_id"] == "trace-socket-1" && rec["msg"] == "request"
	}
	for deadline := time.Now().Add(time.Minute); !logged(realtimeLine) || !logged(gatewayLine); {
		if time.Now().After(deadline) {
			t.Fatalf("want a realtime line and the gateway's access line with the socket's request id:\n%v", logs.Records())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// PostgreSQL: a function the request calls reads the id.
	conn, err := pgx.Connect(ctx, s.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `create or replace function public.test_request_id() returns text language plpgsql stable
		as $$ begin
		  raise log 'test_request_id was called';
		  return (current_setting('request.headers', true)::json->>'x-request-id') || ' ' || current_setting('application_name');
		end $$;
		grant execute on function public.test_request_id() to anon;
		notify pgrst, 'reload schema'`); err != nil {
		t.Fatal(err)
	}
	var got string
	for deadline := time.Now().Add(time.Minute); ; {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/rest/v1/rpc/test_request_id", strings.NewReader("{}"))
		req.Header.Set("apikey", s.AnonKey)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-Id", "trace-sql-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			got = string(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rpc: %d %s", resp.StatusCode, b)
		}
		time.Sleep(50 * time.Millisecond) // the schema cache reloads on its own
	}
	if got != `"trace-sql-1 trace-sql-1"` {
		t.Errorf("the request's statements see request id and application_name %s, want both trace-sql-1", got)
	}
	for deadline := time.Now().Add(time.Minute); ; {
		raw, _ := os.ReadFile(s.Tenant.PostgresLog())
		if slices.ContainsFunc(strings.Split(string(raw), "\n"), func(l string) bool {
			return strings.Contains(l, "test_request_id was called") && strings.Contains(l, "trace-sql-1")
		}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres.log has no line of the function naming the request id")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func logged(match func(map[string]any) bool) bool {
	for _, rec := range logs.Records() {
		if match(rec) {
			return true
		}
	}
	return false
}
