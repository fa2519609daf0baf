package gateway

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ConfigError is a problem in a declarative configuration file, located by
// file and line so an operator can fix it without guessing.
type ConfigError struct {
	File string
	Line int
	Msg  string
}

func (e *ConfigError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// decoder walks a yaml.v3 node tree with line-accurate errors.
type decoder struct {
	file   string
	budget int // nodes left to visit; aliases could otherwise expand without bound
}

func (d *decoder) errf(n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &ConfigError{File: d.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// resolve follows aliases and charges the visit budget.
func (d *decoder) resolve(n *yaml.Node) (*yaml.Node, error) {
	for hops := 0; n != nil && n.Kind == yaml.AliasNode; hops++ {
		if hops > 8 {
			return nil, d.errf(n, "alias chain too long")
		}
		n = n.Alias
	}
	d.budget--
	if d.budget < 0 {
		return nil, d.errf(n, "configuration too large (aliases expand to too many nodes)")
	}
	return n, nil
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// yamlSyntaxLine pulls the line out of yaml.v3's error text ("yaml: line 7: …").
var yamlSyntaxLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yaml.v3 numbers the lines of its parser errors from 0 (its scanner errors
// from 1); these are the parser's messages.
var yamlParserProblems = []string{
	"did not find expected key",
	"did not find expected node content",
	"did not find expected '-' indicator",
	"did not find expected ',' or",
	"did not find expected <document start>",
}

func (d *decoder) syntaxError(err error) error {
	msg := err.Error()
	if m := yamlSyntaxLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		for _, p := range yamlParserProblems {
			if strings.HasPrefix(m[2], p) {
				line++
				break
			}
		}
		return &ConfigError{File: d.file, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	// yaml.v3 leaves out a line 0, which is line 1.
	msg = strings.TrimPrefix(msg, "yaml: ")
	return &ConfigError{File: d.file, Line: 1, Msg: "invalid YAML: " + msg}
}

// object is a YAML mapping being decoded field by field; done reports
// fields nobody asked for, as Kong's schema validation does.
type object struct {
	d      *decoder
	node   *yaml.Node
	what   string
	keys   []string
	values map[string]*yaml.Node
	keyPos map[string]*yaml.Node
	used   map[string]bool
}

func (d *decoder) object(n *yaml.Node, what string) (*object, error) {
	n, err := d.resolve(n)
	if err != nil {
		return nil, err
	}
	if n.Kind != yaml.MappingNode {
		return nil, d.errf(n, "%s must be a mapping, found %s", what, kindName(n))
	}
	o := &object{d: d, node: n, what: what, values: map[string]*yaml.Node{}, keyPos: map[string]*yaml.Node{}, used: map[string]bool{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, err := d.resolve(n.Content[i])
		if err != nil {
			return nil, err
		}
		if k.Kind != yaml.ScalarNode {
			return nil, d.errf(k, "%s has a non-scalar key", what)
		}
		if _, dup := o.values[k.Value]; dup {
			return nil, d.errf(k, "%s sets %q twice", what, k.Value)
		}
		o.keys = append(o.keys, k.Value)
		o.values[k.Value] = n.Content[i+1]
		o.keyPos[k.Value] = k
	}
	return o, nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	default:
		return "an unexpected node"
	}
}

// line is the line of the field's key, or of the object when absent.
func (o *object) line(name string) *yaml.Node {
	if k, ok := o.keyPos[name]; ok {
		return k
	}
	return o.node
}

func (o *object) has(name string) bool {
	v, ok := o.values[name]
	return ok && !isNull(v)
}

// get returns the value node of name, nil when absent or null.
func (o *object) get(name string) (*yaml.Node, error) {
	o.used[name] = true
	v, ok := o.values[name]
	if !ok || isNull(v) {
		return nil, nil
	}
	return o.d.resolve(v)
}

func (o *object) str(name, def string) (string, error) {
	v, err := o.get(name)
	if err != nil || v == nil {
		return def, err
	}
	if v.Kind != yaml.ScalarNode {
		return "", o.d.errf(v, "%s: %s must be a string, found %s", o.what, name, kindName(v))
	}
	return v.Value, nil
}

func (o *object) boolean(name string, def bool) (bool, error) {
	return scalar(o, name, def, "true or false")
}

func (o *object) integer(name string, def int) (int, error) {
	return scalar(o, name, def, "an integer")
}

// scalar decodes the scalar field name as a T, def when it is absent; kind
// says what it must be in the error ("an integer").
func scalar[T any](o *object, name string, def T, kind string) (T, error) {
	v, err := o.get(name)
	if err != nil || v == nil {
		return def, err
	}
	var x T
	if v.Kind != yaml.ScalarNode || v.Decode(&x) != nil {
		var zero T
		return zero, o.d.errf(v, "%s: %s must be %s, found %s", o.what, name, kind, kindName(v))
	}
	return x, nil
}

func (o *object) strings(name string) ([]string, error) {
	v, err := o.get(name)
	if err != nil || v == nil {
		return nil, err
	}
	if v.Kind != yaml.SequenceNode {
		return nil, o.d.errf(v, "%s: %s must be a list of strings, found %s", o.what, name, kindName(v))
	}
	out := make([]string, 0, len(v.Content))
	for _, item := range v.Content {
		item, err := o.d.resolve(item)
		if err != nil {
			return nil, err
		}
		if item.Kind != yaml.ScalarNode || isNull(item) {
			return nil, o.d.errf(item, "%s: %s must be a list of strings, found %s in it", o.what, name, kindName(item))
		}
		out = append(out, item.Value)
	}
	return out, nil
}

// list returns the items of a sequence field.
func (o *object) list(name string) ([]*yaml.Node, error) {
	v, err := o.get(name)
	if err != nil || v == nil {
		return nil, err
	}
	if v.Kind != yaml.SequenceNode {
		return nil, o.d.errf(v, "%s: %s must be a list, found %s", o.what, name, kindName(v))
	}
	return v.Content, nil
}

// sub decodes a nested mapping field; an absent field gives an empty object.
func (o *object) sub(name, what string) (*object, error) {
	v, err := o.get(name)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return &object{d: o.d, node: o.line(name), what: what, values: map[string]*yaml.Node{}, keyPos: map[string]*yaml.Node{}, used: map[string]bool{}}, nil
	}
	return o.d.object(v, what)
}

// ignore marks fields that are accepted and have no effect here.
func (o *object) ignore(names ...string) {
	for _, n := range names {
		o.used[n] = true
	}
}

// unsupported rejects a field set to anything but its neutral value, so a
// configuration never silently means less than it says.
func (o *object) unsupported(name string, neutral func(*yaml.Node) bool, why string) error {
	o.used[name] = true
	v, ok := o.values[name]
	if !ok || isNull(v) {
		return nil
	}
	v, err := o.d.resolve(v)
	if err != nil {
		return err
	}
	if neutral != nil && neutral(v) {
		return nil
	}
	return o.d.errf(o.line(name), "%s: %s is not supported by the embedded gateway%s", o.what, name, why)
}

func isFalse(n *yaml.Node) bool {
	var b bool
	return n.Kind == yaml.ScalarNode && n.Decode(&b) == nil && !b
}

func isEmptyList(n *yaml.Node) bool {
	return n.Kind == yaml.SequenceNode && len(n.Content) == 0
}

// done fails on the first field that was not consumed. Keys starting with
// "_comment" or "_ignore" are annotations Kong accepts anywhere.
func (o *object) done() error {
	var unknown []string
	for _, k := range o.keys {
		if o.used[k] || strings.HasPrefix(k, "_comment") || strings.HasPrefix(k, "_ignore") {
			continue
		}
		unknown = append(unknown, k)
	}
	if len(unknown) == 0 {
		return nil
	}
	known := make([]string, 0, len(o.used))
	for k := range o.used {
		known = append(known, k)
	}
	sort.Strings(known)
	return o.d.errf(o.keyPos[unknown[0]], "%s: unknown field %q (known fields: %s)", o.what, unknown[0], strings.Join(known, ", "))
}
