package rest

import (
	"fmt"

	"github.com/sfp-dev/sfp/pkg/server/rest/query"
)

// Aggregates in select (PostgREST's db-aggregates-enabled): count(),
// col.sum(), col.avg(), col.max(), col.min(), col.count(), with a cast of
// the column before (col::int.sum()) and of the result after
// (col.avg()::int). A level that selects an aggregate groups by every
// other value it selects, its embeds included; the aggregates of a to-one
// spread are hoisted to the level it is spread into, as PostgREST does.

// aggregate resolves an aggregate select item of node n.
func (pl *planner) aggregate(n *node, it query.SelectItem) (selField, *apiError) {
	if !pl.aggregates {
		return selField{}, newErr(400, codeAggregates, "Use of aggregate functions is not allowed")
	}
	sf := selField{agg: it.Aggregate, aggCast: it.AggregateCast, alias: it.Alias, cast: it.Cast}
	if it.Field.Name == "*" {
		// Only count() parses this way: it counts the rows.
		sf.countStar = true
		return sf, nil
	}
	f, err := pl.resolveField(n.table, it.Field)
	if err != nil {
		return selField{}, err
	}
	sf.f = f
	return sf, nil
}

// hoist moves the aggregates of to-one spread n to its parent: n selects
// the aggregated values under names of their own, its parent aggregates
// them and groups by the rest.
func (pl *planner) hoist(n *node) {
	n.grouped = false
	for i := range n.sels {
		if n.sels[i].agg != "" {
			pl.seq++
			n.sels[i].hoistAs = fmt.Sprintf("pgrst_h%d", pl.seq)
		}
	}
	n.parent.grouped = true
}

// spreadCol is one value a spread embed adds to its parent: the lateral
// column src, aggregated when agg is set.
type spreadCol struct {
	name, src string
	agg       *selField
}

// spreadCols are the values a spread embed adds to its parent: its
// columns and aggregates, and those of its own spreads.
func (n *node) spreadCols() []spreadCol {
	var out []spreadCol
	seen := map[string]bool{}
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			out = append(out, spreadCol{name: name, src: name})
		}
	}
	for i := range n.sels {
		sf := &n.sels[i]
		switch {
		case sf.star:
			for _, c := range n.table.Columns {
				add(c.Name)
			}
		case sf.hoistAs != "":
			out = append(out, spreadCol{name: sf.name(), src: sf.hoistAs, agg: sf})
		default:
			add(sf.name())
		}
	}
	if n.allStar && len(n.sels) == 0 {
		for _, c := range n.table.Columns {
			add(c.Name)
		}
	}
	for _, c := range n.children {
		if c.spread {
			for _, x := range c.spreadCols() {
				add(x.name)
			}
		} else if !c.isEmpty() {
			add(c.name)
		}
	}
	return out
}
