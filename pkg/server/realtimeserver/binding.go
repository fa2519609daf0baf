package realtimeserver

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// bindingSpec is one entry of config.postgres_changes in a join payload.
type bindingSpec struct {
	Event   string // "*", "INSERT", "UPDATE" or "DELETE"
	Schema  string // "*" for every schema
	Table   string // "*" for every table
	filters []filterSpec
	Select  []string // nil: every column
	id      int64
}

// parseBinding reads a binding with the official server's rules; errors
// carry its wording.
func parseBinding(raw json.RawMessage) (*bindingSpec, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, fmt.Errorf("No subscription params provided. Please provide at least a `schema` or `table` to subscribe to: %s", raw)
	}
	b := &bindingSpec{Event: "*", id: bindingID(m)}
	var ev string
	if json.Unmarshal(m["event"], &ev) == nil {
		switch up := strings.ToUpper(ev); up {
		case "INSERT", "UPDATE", "DELETE":
			b.Event = up
		}
	}
	if sel, ok := m["select"]; ok {
		var list []any
		var str string
		switch {
		case json.Unmarshal(sel, &list) == nil:
			for _, v := range list {
				if s, ok := v.(string); ok {
					b.Select = append(b.Select, s)
				}
			}
		case json.Unmarshal(sel, &str) == nil:
			return nil, fmt.Errorf("Error parsing `select` params: expected a list of column name strings, e.g. select: [\"col1\", \"col2\"]")
		}
	}
	schema, hasSchema := stringField(m, "schema")
	table, hasTable := stringField(m, "table")
	filter, hasFilter := stringField(m, "filter")
	_, filterKey := m["filter"]
	_, schemaKey := m["schema"]
	_, tableKey := m["table"]
	switch {
	case hasSchema && hasTable && hasFilter:
		fs, err := parseFilters(filter)
		if err != nil {
			return nil, fmt.Errorf("Error parsing `filter` params: %v", err)
		}
		b.Schema, b.Table, b.filters = schema, table, fs
	case hasSchema && hasTable && !filterKey:
		b.Schema, b.Table = schema, table
	case hasSchema && !tableKey && !filterKey:
		b.Schema, b.Table = schema, "*"
	case hasTable && !schemaKey && !filterKey:
		b.Schema, b.Table = "public", table
	default:
		return nil, fmt.Errorf("No subscription params provided. Please provide at least a `schema` or `table` to subscribe to: %s", inspectMap(m))
	}
	if b.Select != nil && (b.Schema == "*" || b.Table == "*") {
		return nil, fmt.Errorf("Column selection is not supported for wildcard subscriptions. Provide an explicit schema and table name.")
	}
	return b, nil
}

func stringField(m map[string]json.RawMessage, key string) (string, bool) {
	raw, ok := m[key]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// bindingID gives a binding the stable small integer id the official server
// derives from a hash of its parameters; clients route changes by it.
func bindingID(m map[string]json.RawMessage) int64 {
	canon, _ := json.Marshal(m) // map keys are sorted: equal params, equal id
	h := fnv.New32a()
	h.Write(canon)
	return int64(h.Sum32() & (1<<27 - 1))
}

// bindingReply is a binding as sent plus its id, for the join reply.
func bindingReply(raw json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return raw
	}
	m["id"] = json.RawMessage(strconv.FormatInt(bindingID(m), 10))
	data, _ := json.Marshal(m)
	return data
}

// logParams renders the binding as the official server does in its
// subscription error messages.
func (b *bindingSpec) logParams() string {
	var fs []string
	for _, f := range b.filters {
		fs = append(fs, fmt.Sprintf("{%s, %s, %s, %t}", strconv.Quote(f.Column), strconv.Quote(f.Op), strconv.Quote(f.Value), f.Negate))
	}
	sel := "nil"
	if b.Select != nil {
		sel = inspectList(b.Select...)
	}
	return fmt.Sprintf("event: %s, schema: %s, table: %s, filters: [%s], select: %s", b.Event, b.Schema, b.Table, strings.Join(fs, ", "), sel)
}

// inspectMap renders a JSON object roughly as Elixir's inspect renders a map.
func inspectMap(m map[string]json.RawMessage) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := string(m[k])
		if v == "null" {
			v = "nil"
		}
		parts[i] = strconv.Quote(k) + " => " + v
	}
	return "%{" + strings.Join(parts, ", ") + "}"
}
