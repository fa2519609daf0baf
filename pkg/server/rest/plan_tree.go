package rest

import (
	"fmt"
	"strings"

	"github.com/sfp-dev/sfp/pkg/server/rest/query"
)

// The resource tree every plan shares: the parsed select list resolved
// against the schema cache into nodes (the root table and its embedded
// resources), with the filters, orders and ranges plan_params.go attaches;
// unknown columns, relationships and embeds are answered before any SQL
// exists.

// field is a resolved column reference (with an optional JSON path).
type field struct {
	col    string
	path   []query.JSONOp
	toJSON bool // the column is not json/jsonb: wrap it in to_jsonb() before the arrows
	isTS   bool // the column is a tsvector (fts needs no to_tsvector)
	// computed is a computed field (a function of the row), not a column.
	computed bool
}

type selField struct {
	f     field
	star  bool
	alias string // output name ("" = column name)
	cast  string
	// agg is an aggregate (count, sum, avg, max, min) of f, cast to
	// aggCast; countStar is count() of the rows.
	agg       string
	aggCast   string
	countStar bool
	// hoistAs is set on an aggregate of a to-one spread: the embed
	// selects the value under this name and its parent aggregates it.
	hoistAs string
}

// name is the JSON key of a selected column or aggregate.
func (sf *selField) name() string {
	switch {
	case sf.alias != "":
		return sf.alias
	case sf.agg != "":
		return sf.agg
	}
	return sf.f.col
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
	table   *Table
	alias   string // SQL alias of the table at this level
	lateral string // alias of the LATERAL join holding this embed's JSON
	name    string // the JSON key (alias or relation name)
	relName string // name used in the request (for errors)
	rel     *Relationship
	toOne   bool
	inner   bool
	spread  bool
	// grouped is set when the level selects aggregates (its own, or
	// hoisted from a to-one spread): the other selected values group.
	grouped  bool
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
	// aggregates is db-aggregates-enabled: without it an aggregate in
	// select is PGRST123.
	aggregates bool
}

func columnNotFound(t *Table, col string) *apiError {
	return newErr(400, "42703", fmt.Sprintf("column %s.%s does not exist", t.Name, col))
}

func (pl *planner) resolveField(t *Table, f query.Field) (field, *apiError) {
	if t.Open {
		return field{col: f.Name, path: f.JSONPath}, nil
	}
	c := t.Column(f.Name)
	base := ""
	switch {
	case c != nil:
		base = c.BaseType
	case t.Computed[f.Name] != nil:
		// q."name" is the computed field: PostgreSQL's attribute
		// notation for name(q), taken only when no column has the name.
		base = t.Computed[f.Name].ReturnType
	default:
		return field{}, columnNotFound(t, f.Name)
	}
	out := field{col: f.Name, path: f.JSONPath, isTS: base == "tsvector", computed: c == nil}
	if len(f.JSONPath) > 0 && base != "json" && base != "jsonb" {
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
			sf, err := pl.aggregate(n, it)
			if err != nil {
				return err
			}
			n.sels = append(n.sels, sf)
			n.grouped = true
			continue
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
		toOne:   rel.Card == ManyToOne || rel.Card == OneToOne,
		inner:   e.Join == "inner",
		spread:  e.Spread,
		limit:   -1,
		parent:  parent,
	}
	if e.Alias != "" {
		n.name = e.Alias
	}
	if err := pl.fillSelect(n, e.Select, false); err != nil {
		return nil, err
	}
	if n.spread && n.grouped {
		if !n.toOne {
			return nil, newErr(400, "PGRST127", "Feature not implemented").
				withDetails("aggregates inside to-many spreads are not supported")
		}
		pl.hoist(n)
	}
	return n, nil
}

// findRel finds the relationship from origin to the embed target, as
// PostgREST's findRel: by target table/view name, constraint name or
// column, disambiguated by a hint.
func (pl *planner) findRel(origin *Table, target, hint string) (*Relationship, *apiError) {
	rels := pl.sc.Rels[[2]string{origin.Schema, origin.Name}]
	// A computed relationship is embedded by its function's name, and
	// overrides any other relationship of that name, as PostgREST does.
	for _, r := range rels {
		if r.Function != nil && r.Function.Name == target {
			return r, nil
		}
	}
	var found []*Relationship
	single := func(r *Relationship, idx int, name string) bool {
		return len(r.Columns) == 1 && r.Columns[0][idx] == name
	}
	for _, r := range rels {
		var ok bool
		if r.Function != nil {
			continue
		}
		if r.IsSelf {
			if hint == "" {
				ok = (r.Foreign.Name == target && r.Card == OneToMany) ||
					(single(r, 0, target) && r.Card == ManyToOne)
			} else {
				// A column of the referencing side, as PostgREST; or the
				// foreign key's name, which both directions of a
				// self-reference share: the one-to-many side (what
				// supabase-js's types expect; PostgREST answers PGRST200).
				ok = r.Foreign.Name == target && r.Card == OneToMany && (single(r, 1, hint) || r.Constraint == hint)
			}
		} else if hint == "" {
			ok = r.Foreign.Name == target ||
				(r.Constraint == target && !r.ForeignView) ||
				(single(r, 0, target) && !r.ForeignView)
		} else {
			ok = r.Foreign.Name == target &&
				(r.Constraint == hint || single(r, 0, hint) || single(r, 1, hint) ||
					(r.Junction != nil && r.Junction.Table.Name == hint))
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
		hints = append(hints, fmt.Sprintf("'%s!%s'", r.Foreign.Name, relHintName(r)))
		details = append(details, map[string]string{
			"cardinality":  cardinalityName[r.Card],
			"embedding":    r.Table.Name + " with " + r.Foreign.Name,
			"relationship": relDescription(r),
		})
	}
	e.withHint(fmt.Sprintf("Try changing '%s' to one of the following: %s. Find the desired relationship in the 'details' key.", target, strings.Join(hints, ", ")))
	e.rawDetails = details
	return nil, e
}

// relHintName is what disambiguates r in a hint: the junction table of a
// many-to-many relationship, the foreign key's name otherwise.
func relHintName(r *Relationship) string {
	if r.Junction != nil {
		return r.Junction.Table.Name
	}
	return r.Constraint
}

// relDescription describes r in PGRST201's details, as PostgREST does.
func relDescription(r *Relationship) string {
	cols := func(pairs [][2]string, i int) string {
		var out []string
		for _, p := range pairs {
			out = append(out, p[i])
		}
		return "(" + strings.Join(out, ", ") + ")"
	}
	if j := r.Junction; j != nil {
		return fmt.Sprintf("%s using %s%s and %s%s", j.Table.Name, j.Constraint1, cols(j.Source, 1), j.Constraint2, cols(j.Target, 1))
	}
	return fmt.Sprintf("%s using %s%s and %s%s", r.Constraint, r.Table.Name, cols(r.Columns, 0), r.Foreign.Name, cols(r.Columns, 1))
}
