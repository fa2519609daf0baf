package cmdutil

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	NewLogger(&buf, func(string) string { return "json" }).Info("hello", "component", "rest")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["msg"] != "hello" || rec["component"] != "rest" {
		t.Fatalf("SFP_LOG_FORMAT=json wrote %q (%v)", buf.String(), err)
	}
	buf.Reset()
	NewLogger(&buf, func(string) string { return "" }).Info("hello")
	if !strings.Contains(buf.String(), "msg=hello") {
		t.Fatalf("the default wrote %q", buf.String())
	}
	buf.Reset()
	NewLogger(&buf, func(string) string { return "xml" }).Info("hello")
	if !strings.Contains(buf.String(), "neither text nor json") || !strings.Contains(buf.String(), "msg=hello") {
		t.Fatalf("an unknown format wrote %q", buf.String())
	}
}
