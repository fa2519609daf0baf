package requestid

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

func TestLogHandlerAddsTheRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "rest")
	ctx := With(context.Background(), "abc-123")
	log.InfoContext(ctx, "with id")
	log.Info("without id")
	dec := json.NewDecoder(&buf)
	var first, second map[string]any
	if err := dec.Decode(&first); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&second); err != nil {
		t.Fatal(err)
	}
	if first["request_id"] != "abc-123" || first["component"] != "rest" {
		t.Errorf("first line %v", first)
	}
	if _, ok := second["request_id"]; ok {
		t.Errorf("a line logged without a context has a request_id: %v", second)
	}
	if From(context.Background()) != "" || From(ctx) != "abc-123" {
		t.Error("From")
	}
	type other struct{}
	if With(context.WithValue(context.Background(), other{}, 1), "x").Value(other{}) != 1 {
		t.Error("the parent's values are lost")
	}
}
