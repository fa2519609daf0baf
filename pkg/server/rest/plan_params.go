package rest

import (
	"fmt"
	"strings"

	"github.com/sfp-dev/sfp/pkg/server/rest/query"
)

// The query string's filters, logic trees, orders and ranges attached to
// the nodes of a resource tree they address (the root, or an embed by its
// path).

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

// embedAt is the node path addresses (n itself for an empty path), or
// PostgREST's error for a path that names no embed of the request.
func (n *node) embedAt(path []string) (*node, *apiError) {
	target := n.find(path)
	if target == nil {
		return nil, notEmbedded(path)
	}
	return target, nil
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
		target, err := root.embedAt(f.Path)
		if err != nil {
			return err
		}
		var embedRef *node
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
		target, err := root.embedAt(l.Path)
		if err != nil {
			return err
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
		target, err := root.embedAt(o.Path)
		if err != nil {
			return err
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
		target, err := root.embedAt(r.Path)
		if err != nil {
			return err
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
