package rest

import (
	"fmt"
	"strings"

	"github.com/sfp-dev/sfp/pkg/embedded/rest/query"
)

// The resource tree every plan shares: the parsed select list, filters,
// logic trees, orders and ranges resolved against the schema cache into
// nodes (the root table and its embedded resources), where unknown
// columns, relationships and embeds are answered before any SQL exists.

// field is a resolved column reference (with an optional JSON path).
type field struct {
	col    string
	path   []query.JSONOp
	toJSON bool // the column is not json/jsonb: wrap it in to_jsonb() before the arrows
	isTS   bool // the column is a tsvector (fts needs no to_tsvector)
}

type selField struct {
	f     field
	star  bool
	alias string // output name ("" = column name)
	cast  string
}

// leaf is one resolved filter.
type leaf struct {
	f    field
	expr query.OpExpr
	// embed is set for a null filter on an embedded resource (books=is.null).
	embed *node
}

// cond is a resolved logic tree.
type cond struct {
	not, or bool
	kids    []cond
	leaf    *leaf
}

type orderTerm struct {
	f        field
	relation *node // related order: the to-one embed whose column orders
	desc     bool
	hasDir   bool
	nulls    string
}

// node is one level of a read: the root table, or an embedded resource.
type node struct {
	table    *Table
	alias    string // SQL alias of the table at this level
	lateral  string // alias of the LATERAL join holding this embed's JSON
	name     string // the JSON key (alias or relation name)
	relName  string // name used in the request (for errors)
	rel      *Relationship
	toOne    bool
	inner    bool
	spread   bool
	sels     []selField
	allStar  bool // select=* (or nothing selected at the root)
	children []*node
	where    []cond
	order    []orderTerm
	limit    int64 // -1 = none
	offset   int64
	parent   *node
}

func (n *node) path() []string {
	var p []string
	for x := n; x.parent != nil; x = x.parent {
		p = append([]string{x.name}, p...)
	}
	return p
}

// planner resolves a parsed query string against the schema cache.
type planner struct {
	sc     *Schema
	schema string
	seq    int
}

func columnNotFound(t *Table, col string) *apiError {
	return newErr(400, "42703", fmt.Sprintf("column %s.%s does not exist", t.Name, col))
}

func (pl *planner) resolveField(t *Table, f query.Field) (field, *apiError) {
	if t.Open {
		return field{col: f.Name, path: f.JSONPath}, nil
	}
	c := t.Column(f.Name)
	if c == nil {
		return field{}, columnNotFound(t, f.Name)
	}
	out := field{col: c.Name, path: f.JSONPath, isTS: c.BaseType == "tsvector"}
	if len(f.JSONPath) > 0 && c.BaseType != "json" && c.BaseType != "jsonb" {
		out.toJSON = true
	}
	return out, nil
}

// buildTree resolves the select list into a node tree rooted at t.
func (pl *planner) buildTree(t *Table, sel []query.SelectItem) (*node, *apiError) {
	root := &node{table: t, limit: -1, name: t.Name, relName: t.Name}
	if err := pl.fillSelect(root, sel, true); err != nil {
		return nil, err
	}
	return root, nil
}

func (pl *planner) fillSelect(n *node, sel []query.SelectItem, isRoot bool) *apiError {
	if isRoot && len(sel) == 0 {
		// No select= (or an empty one): every column, as PostgREST.
		n.allStar = true
		return nil
	}
	for _, it := range sel {
		if it.Embed != nil {
			child, err := pl.embed(n, it.Embed)
			if err != nil {
				return err
			}
			n.children = append(n.children, child)
			continue
		}
		if it.Aggregate != "" {
			return newErr(400, codeAggregates, "Use of aggregate functions is not allowed")
		}
		if it.Field.Name == "*" {
			n.allStar = true
			n.sels = append(n.sels, selField{star: true})
			continue
		}
		f, err := pl.resolveField(n.table, it.Field)
		if err != nil {
			return err
		}
		sf := selField{f: f, alias: it.Alias, cast: it.Cast}
		if sf.alias == "" && len(f.path) > 0 {
			sf.alias = lastJSONKey(f)
		}
		n.sels = append(n.sels, sf)
	}
	return nil
}

// lastJSONKey names a JSON path selection after its last key, or the
// column when the path has only indexes (as PostgREST does).
func lastJSONKey(f field) string {
	for i := len(f.path) - 1; i >= 0; i-- {
		if !f.path[i].Index {
			return f.path[i].Key
		}
	}
	return f.col
}

func (pl *planner) embed(parent *node, e *query.Embed) (*node, *apiError) {
	rel, err := pl.findRel(parent.table, e.Name, e.Hint)
	if err != nil {
		return nil, err
	}
	pl.seq++
	n := &node{
		table:   rel.Foreign,
		alias:   fmt.Sprintf("pgrst_%d", pl.seq),
		lateral: fmt.Sprintf("pgrst_a%d", pl.seq),
		name:    e.Name,
		relName: e.Name,
		rel:     rel,
		toOne:   rel.Card != OneToMany,
		inner:   e.Join == "inner",
		spread:  e.Spread,
		limit:   -1,
		parent:  parent,
	}
	if e.Alias != "" {
		n.name = e.Alias
	}
	if n.spread && !n.toOne {
		return nil, newErr(400, "PGRST127", "Feature not implemented").
			withDetails("spreading a to-many relationship is not supported by this server")
	}
	if err := pl.fillSelect(n, e.Select, false); err != nil {
		return nil, err
	}
	return n, nil
}

// findRel finds the relationship from origin to the embed target, as
// PostgREST's findRel: by target table/view name, constraint name or
// column, disambiguated by a hint.
func (pl *planner) findRel(origin *Table, target, hint string) (*Relationship, *apiError) {
	rels := pl.sc.Rels[[2]string{origin.Schema, origin.Name}]
	var found []*Relationship
	single := func(r *Relationship, idx int, name string) bool {
		return len(r.Columns) == 1 && r.Columns[0][idx] == name
	}
	for _, r := range rels {
		var ok bool
		if r.IsSelf {
			if hint == "" {
				ok = (r.Foreign.Name == target && r.Card == OneToMany) ||
					(single(r, 0, target) && r.Card == ManyToOne)
			} else {
				ok = r.Foreign.Name == target && r.Card == OneToMany && single(r, 1, hint)
			}
		} else if hint == "" {
			ok = r.Foreign.Name == target ||
				(r.Constraint == target && !r.ForeignView) ||
				(single(r, 0, target) && !r.ForeignView)
		} else {
			ok = r.Foreign.Name == target &&
				(r.Constraint == hint || single(r, 0, hint) || single(r, 1, hint))
		}
		if ok {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		d := fmt.Sprintf("Searched for a foreign key relationship between '%s' and '%s'", origin.Name, target)
		if hint != "" {
			d += "' using the hint '" + hint
		}
		d += fmt.Sprintf("' in the schema '%s', but no matches were found.", origin.Schema)
		// The message quotes each name; fix the doubled quote from the hint form.
		d = strings.Replace(d, "''", "'", 1)
		e := newErr(400, codeNoRel, fmt.Sprintf("Could not find a relationship between '%s' and '%s' in the schema cache", origin.Name, target)).withDetails(d)
		var names []string
		for _, r := range rels {
			names = append(names, r.Foreign.Name)
		}
		if s := suggest(target, names); s != "" && s != target {
			e.withHint(fmt.Sprintf("Perhaps you meant '%s' instead of '%s'.", s, target))
		}
		return nil, e
	}
	e := newErr(300, codeAmbiguousRel, fmt.Sprintf("Could not embed because more than one relationship was found for '%s' and '%s'", origin.Name, target))
	var hints []string
	var details []map[string]string
	for _, r := range found {
		hints = append(hints, fmt.Sprintf("'%s!%s'", r.Foreign.Name, r.Constraint))
		var a, b []string
		for _, c := range r.Columns {
			a = append(a, c[0])
			b = append(b, c[1])
		}
		card := map[Cardinality]string{ManyToOne: "many-to-one", OneToMany: "one-to-many", OneToOne: "one-to-one"}[r.Card]
		details = append(details, map[string]string{
			"cardinality":  card,
			"embedding":    r.Table.Name + " with " + r.Foreign.Name,
			"relationship": fmt.Sprintf("%s using %s(%s) and %s(%s)", r.Constraint, r.Table.Name, strings.Join(a, ", "), r.Foreign.Name, strings.Join(b, ", ")),
		})
	}
	e.withHint(fmt.Sprintf("Try changing '%s' to one of the following: %s. Find the desired relationship in the 'details' key.", target, strings.Join(hints, ", ")))
	e.rawDetails = details
	return nil, e
}

// find returns the child of n reached by an embed path (by JSON name or
// relation name).
func (n *node) find(path []string) *node {
	cur := n
	for _, p := range path {
		var next *node
		for _, c := range cur.children {
			if c.name == p || c.relName == p {
				next = c
				break
			}
		}
		if next == nil {
			return nil
		}
		cur = next
	}
	return cur
}

func notEmbedded(path []string) *apiError {
	r := strings.Join(path, ".")
	return newErr(400, codeNotEmbedded, fmt.Sprintf("'%s' is not an embedded resource in this request", r)).
		withHint(fmt.Sprintf("Verify that '%s' is included in the 'select' query parameter.", r))
}

// applyParams attaches filters, logic trees, orders and ranges to the
// nodes they address, then the root's range (capped by maxRows when it is
// positive).
func (pl *planner) applyParams(root *node, q *query.Params, maxRows int64, rootRange query.Range) *apiError {
	if err := pl.applyFilters(root, q.Filters); err != nil {
		return err
	}
	if err := pl.applyLogic(root, q.Logic); err != nil {
		return err
	}
	if err := pl.applyOrders(root, q.Order); err != nil {
		return err
	}
	if err := applyRanges(root, q.Ranges); err != nil {
		return err
	}
	root.limit, root.offset = rootRange.Limit, rootRange.Offset
	if maxRows > 0 && (root.limit < 0 || root.limit > maxRows) {
		root.limit = maxRows
	}
	return nil
}

// applyFilters attaches each filter to the node its path addresses; a
// null filter named after an embed (books=is.null) filters on the embed.
func (pl *planner) applyFilters(root *node, filters []query.Filter) *apiError {
	for _, f := range filters {
		target := root
		var embedRef *node
		if len(f.Path) > 0 {
			target = root.find(f.Path)
			if target == nil {
				return notEmbedded(f.Path)
			}
		}
		// A filter named after an embed of the target: books=is.null.
		if len(f.Field.JSONPath) == 0 {
			for _, c := range target.children {
				if c.name == f.Field.Name || c.relName == f.Field.Name {
					embedRef = c
				}
			}
		}
		if embedRef != nil && target.table.Column(f.Field.Name) == nil {
			if f.Expr.Op != "is" || (f.Expr.Value != "null" && f.Expr.Value != "not_null") {
				return newErr(400, codeBadEmbedFilter, fmt.Sprintf("Bad operator on the '%s' embedded resource", f.Field.Name)).
					withDetails("Only is null or not is null filters are allowed on embedded resources")
			}
			target.where = append(target.where, cond{leaf: &leaf{embed: embedRef, expr: f.Expr}})
			continue
		}
		fld, err := pl.resolveField(target.table, f.Field)
		if err != nil {
			return err
		}
		target.where = append(target.where, cond{leaf: &leaf{f: fld, expr: f.Expr}})
	}
	return nil
}

// applyLogic attaches and=/or= trees to the nodes their paths address.
func (pl *planner) applyLogic(root *node, logic []query.Logic) *apiError {
	for _, l := range logic {
		target := root
		if len(l.Path) > 0 {
			if target = root.find(l.Path); target == nil {
				return notEmbedded(l.Path)
			}
		}
		c, err := pl.resolveLogic(target, l.Tree, 0)
		if err != nil {
			return err
		}
		target.where = append(target.where, c)
	}
	return nil
}

// applyOrders attaches order= terms, a related order on a to-one embed
// included.
func (pl *planner) applyOrders(root *node, orders []query.Order) *apiError {
	for _, o := range orders {
		target := root
		if len(o.Path) > 0 {
			if target = root.find(o.Path); target == nil {
				return notEmbedded(o.Path)
			}
		}
		for _, t := range o.Terms {
			ot := orderTerm{desc: t.Desc, hasDir: t.HasDir, nulls: t.Nulls}
			if t.Relation != "" {
				rn := target.find([]string{t.Relation})
				if rn == nil {
					return notEmbedded(append(append([]string{}, o.Path...), t.Relation))
				}
				if !rn.toOne {
					return newErr(400, codeRelatedOrder, fmt.Sprintf("A related order on '%s' is not possible", rn.name)).
						withDetails(fmt.Sprintf("'%s' and '%s' do not form a many-to-one or one-to-one relationship", target.table.Name, rn.table.Name))
				}
				f, err := pl.resolveField(rn.table, t.Field)
				if err != nil {
					return err
				}
				ot.relation = rn
				ot.f = f
			} else {
				f, err := pl.resolveField(target.table, t.Field)
				if err != nil {
					return err
				}
				ot.f = f
			}
			target.order = append(target.order, ot)
		}
	}
	return nil
}

// applyRanges sets the limit and offset of embeds.
func applyRanges(root *node, ranges []query.Range) *apiError {
	for _, r := range ranges {
		if len(r.Path) == 0 {
			continue
		}
		target := root.find(r.Path)
		if target == nil {
			return notEmbedded(r.Path)
		}
		target.limit, target.offset = r.Limit, r.Offset
	}
	return nil
}

func (pl *planner) resolveLogic(n *node, t query.LogicTree, depth int) (cond, *apiError) {
	if t.Filter != nil {
		f := t.Filter
		if len(f.Field.JSONPath) == 0 && n.table.Column(f.Field.Name) == nil {
			for _, c := range n.children {
				if c.name == f.Field.Name || c.relName == f.Field.Name {
					if f.Expr.Op != "is" || (f.Expr.Value != "null" && f.Expr.Value != "not_null") {
						return cond{}, newErr(400, codeBadEmbedFilter, fmt.Sprintf("Bad operator on the '%s' embedded resource", f.Field.Name)).
							withDetails("Only is null or not is null filters are allowed on embedded resources")
					}
					return cond{leaf: &leaf{embed: c, expr: f.Expr}}, nil
				}
			}
		}
		fld, err := pl.resolveField(n.table, f.Field)
		if err != nil {
			return cond{}, err
		}
		return cond{leaf: &leaf{f: fld, expr: f.Expr}}, nil
	}
	c := cond{not: t.Not, or: t.Or}
	for _, k := range t.Children {
		kc, err := pl.resolveLogic(n, k, depth+1)
		if err != nil {
			return cond{}, err
		}
		c.kids = append(c.kids, kc)
	}
	return c, nil
}

// suggest returns the candidate closest to s, or "" when none is close.
func suggest(s string, candidates []string) string {
	best, bestScore := "", 0.0
	for _, c := range candidates {
		if sc := similarity(s, c); sc > bestScore {
			best, bestScore = c, sc
		}
	}
	if bestScore < 0.5 {
		return ""
	}
	return best
}

// similarity is a bigram Dice coefficient.
func similarity(a, b string) float64 {
	a, b = strings.ToLower(a), strings.ToLower(b)
	if a == b {
		return 1
	}
	if len(a) < 2 || len(b) < 2 {
		return 0
	}
	grams := map[string]int{}
	for i := 0; i+1 < len(a); i++ {
		grams[a[i:i+2]]++
	}
	match := 0
	for i := 0; i+1 < len(b); i++ {
		g := b[i : i+2]
		if grams[g] > 0 {
			grams[g]--
			match++
		}
	}
	return 2 * float64(match) / float64(len(a)-1+len(b)-1)
}
