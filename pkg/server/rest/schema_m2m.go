package rest

import (
	"slices"
	"strings"
)

// addJunctions adds the many-to-many relationships PostgREST infers
// (SchemaCache.addM2MRels): for every table or view with many-to-one
// relationships through two different foreign keys whose columns all
// belong to its primary key, a relationship from each referenced side to
// the other through it. Called once every foreign key is in s.Rels.
func (s *Schema) addJunctions() {
	// In key order, so the relationships (and PGRST201's hint) come in the
	// same order on every load.
	keys := make([][2]string, 0, len(s.Rels))
	for k := range s.Rels {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int {
		if a[0] != b[0] {
			return strings.Compare(a[0], b[0])
		}
		return strings.Compare(a[1], b[1])
	})
	var m2o [][]*Relationship
	for _, k := range keys {
		var out []*Relationship
		for _, r := range s.Rels[k] {
			if r.Card == ManyToOne && r.Junction == nil {
				out = append(out, r)
			}
		}
		if len(out) > 1 {
			m2o = append(m2o, out)
		}
	}
	for _, rels := range m2o {
		jt := rels[0].Table
		for _, r1 := range rels {
			for _, r2 := range rels {
				if r1.Constraint == r2.Constraint || !keyColumns(jt, r1) || !keyColumns(jt, r2) {
					continue
				}
				j := &Junction{Table: jt, Constraint1: r1.Constraint, Constraint2: r2.Constraint}
				for _, p := range r1.Columns {
					j.Source = append(j.Source, [2]string{p[1], p[0]})
				}
				for _, p := range r2.Columns {
					j.Target = append(j.Target, [2]string{p[1], p[0]})
				}
				s.addRel(&Relationship{Table: r1.Foreign, Foreign: r2.Foreign, Card: ManyToMany,
					IsSelf: r1.Foreign == r2.Foreign, ForeignView: r2.Foreign.IsView, Junction: j})
			}
		}
	}
}

// keyColumns reports whether all of r's origin columns are in jt's
// primary key.
func keyColumns(jt *Table, r *Relationship) bool {
	if len(jt.PK) == 0 {
		return false
	}
	for _, p := range r.Columns {
		if !slices.Contains(jt.PK, p[0]) {
			return false
		}
	}
	return true
}
