package realtimeserver

import "github.com/sfp-dev/sfp/pkg/server/realtimeserver/wal"

// newView and oldView expose a change's rows to filters.
type rowOf struct {
	rel   *wal.Relation
	row   []wal.Value
	isKey bool
}

func (r rowOf) lookup(name string) (string, bool, bool) {
	i, ok := r.rel.ByName[name]
	if !ok || i >= len(r.row) {
		return "", false, false
	}
	if r.isKey && !r.rel.Columns[i].Key {
		return "", false, false
	}
	v := r.row[i]
	if v.Unchanged {
		return "", false, false
	}
	return v.Text, v.Null, true
}
