package gateway

import (
	"fmt"
	"strconv"
	"strings"
)

// The expressions of Kong's request-transformer templates (a Lua subset) and
// how they evaluate.

type luaExpr interface {
	eval(env *templateEnv) (any, error)
}

type luaConst struct{ v any }

func (c luaConst) eval(*templateEnv) (any, error) { return c.v, nil }

type luaGlobal struct{ name string }

func (g luaGlobal) eval(env *templateEnv) (any, error) {
	switch g.name {
	case "headers":
		if env.headers == nil {
			return emptyTable{}, nil
		}
		return env.headers, nil
	case "query_params":
		if env.query == nil {
			return emptyTable{}, nil
		}
		return env.query, nil
	default: // uri_captures, shared
		return emptyTable{}, nil
	}
}

type luaIndex struct {
	obj luaExpr
	key luaExpr
}

func (x luaIndex) eval(env *templateEnv) (any, error) {
	o, err := x.obj.eval(env)
	if err != nil {
		return nil, err
	}
	k, err := x.key.eval(env)
	if err != nil {
		return nil, err
	}
	t, ok := o.(luaTable)
	if !ok {
		if _, isStr := o.(string); isStr {
			return nil, nil // indexing a string yields string library entries, never data
		}
		return nil, fmt.Errorf("attempt to index a %s value", luaType(o))
	}
	return t.index(k), nil
}

type luaMethod struct {
	obj  luaExpr
	name string
	args []luaExpr
}

func (m luaMethod) eval(env *templateEnv) (any, error) {
	o, err := m.obj.eval(env)
	if err != nil {
		return nil, err
	}
	s, ok := o.(string)
	if !ok {
		if f, isNum := o.(float64); isNum {
			s = luaNumber(f)
		} else {
			return nil, fmt.Errorf("attempt to call method %q on a %s value", m.name, luaType(o))
		}
	}
	args := make([]float64, len(m.args))
	for i, a := range m.args {
		v, err := a.eval(env)
		if err != nil {
			return nil, err
		}
		n, err := toNumber(v)
		if err != nil {
			return nil, fmt.Errorf("bad argument #%d to %q: %w", i+1, m.name, err)
		}
		args[i] = n
	}
	switch m.name {
	case "lower":
		return strings.ToLower(s), nil
	case "upper":
		return strings.ToUpper(s), nil
	case "len":
		return float64(len(s)), nil
	default: // "sub", checked at parse time
		i, j := int(args[0]), -1
		if len(args) > 1 {
			j = int(args[1])
		}
		return luaSub(s, i, j), nil
	}
}

// luaSub is string.sub with Lua's index rules (1-based, negative from the end).
func luaSub(s string, i, j int) string {
	n := len(s)
	if i < 0 {
		i = max(n+i+1, 1)
	} else if i == 0 {
		i = 1
	}
	if j < 0 {
		j = n + j + 1
	} else if j > n {
		j = n
	}
	if i > j {
		return ""
	}
	return s[i-1 : j]
}

func toNumber(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err == nil {
			return f, nil
		}
	}
	return 0, fmt.Errorf("number expected, got %s", luaType(v))
}

type luaUnary struct {
	op string
	x  luaExpr
}

func (u luaUnary) eval(env *templateEnv) (any, error) {
	v, err := u.x.eval(env)
	if err != nil {
		return nil, err
	}
	switch u.op {
	case "not":
		return !truthy(v), nil
	case "#":
		switch x := v.(type) {
		case string:
			return float64(len(x)), nil
		case listTable:
			return float64(len(x)), nil
		}
		return nil, fmt.Errorf("attempt to get length of a %s value", luaType(v))
	default: // "-"
		n, err := toNumber(v)
		if err != nil {
			return nil, fmt.Errorf("attempt to perform arithmetic on a %s value", luaType(v))
		}
		return -n, nil
	}
}

type luaBinary struct {
	op   string
	l, r luaExpr
}

func (b luaBinary) eval(env *templateEnv) (any, error) {
	l, err := b.l.eval(env)
	if err != nil {
		return nil, err
	}
	switch b.op {
	case "and":
		if !truthy(l) {
			return l, nil
		}
		return b.r.eval(env)
	case "or":
		if truthy(l) {
			return l, nil
		}
		return b.r.eval(env)
	}
	r, err := b.r.eval(env)
	if err != nil {
		return nil, err
	}
	switch b.op {
	case "==":
		return luaEqual(l, r), nil
	case "~=":
		return !luaEqual(l, r), nil
	case "..":
		ls, lok := concatOperand(l)
		rs, rok := concatOperand(r)
		if !lok {
			return nil, fmt.Errorf("attempt to concatenate a %s value", luaType(l))
		}
		if !rok {
			return nil, fmt.Errorf("attempt to concatenate a %s value", luaType(r))
		}
		return ls + rs, nil
	default: // < <= > >=
		return luaCompare(b.op, l, r)
	}
}

func concatOperand(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return luaNumber(x), true
	}
	return "", false
}

func luaEqual(a, b any) bool {
	switch a.(type) {
	case nil:
		return b == nil
	case bool, string, float64:
		return a == b
	default:
		return false // tables compare by identity; template tables are never the same object
	}
}

func luaCompare(op string, l, r any) (any, error) {
	var c int
	switch x := l.(type) {
	case float64:
		y, ok := r.(float64)
		if !ok {
			return nil, fmt.Errorf("attempt to compare %s with %s", luaType(l), luaType(r))
		}
		switch {
		case x < y:
			c = -1
		case x > y:
			c = 1
		}
	case string:
		y, ok := r.(string)
		if !ok {
			return nil, fmt.Errorf("attempt to compare %s with %s", luaType(l), luaType(r))
		}
		c = strings.Compare(x, y)
	default:
		return nil, fmt.Errorf("attempt to compare %s with %s", luaType(l), luaType(r))
	}
	switch op {
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	default:
		return c >= 0, nil
	}
}
