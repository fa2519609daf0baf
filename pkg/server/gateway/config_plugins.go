package gateway

import (
	"fmt"
	"sort"
	"strings"
)

// Plugin instances and the scope each applies to.

func (p *parser) plugin(pp pendingPlugin) (*Plugin, error) {
	o, err := p.d.object(pp.node, "plugin")
	if err != nil {
		return nil, err
	}
	name, err := o.str("name", "")
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, p.d.errf(o.node, "plugin has no name")
	}
	spec, ok := pluginSpecs[name]
	if !ok {
		return nil, p.d.errf(o.line("name"), "unknown plugin %q (the embedded gateway supports: %s)", name, strings.Join(pluginNames(), ", "))
	}
	o.what = fmt.Sprintf("plugin %q", name)
	pl := &Plugin{Name: name, Route: pp.route, Service: pp.service, Line: o.node.Line}
	if pl.Enabled, err = o.boolean("enabled", true); err != nil {
		return nil, err
	}
	nested := pp.route != nil || pp.service != nil
	if nested {
		for _, f := range []string{"route", "service", "consumer"} {
			if o.has(f) {
				return nil, p.d.errf(o.line(f), "%s is nested and may not set %s", o.what, f)
			}
			o.ignore(f)
		}
	} else {
		if err := o.unsupported("consumer", nil, " (consumer-scoped plugins)"); err != nil {
			return nil, err
		}
		var err error
		if pl.Route, err = resolveRef(p, o, "route", o.what, p.routes); err != nil {
			return nil, err
		}
		if pl.Service, err = resolveRef(p, o, "service", o.what, p.services); err != nil {
			return nil, err
		}
	}
	o.ignore("protocols", "tags", "id", "instance_name", "run_on", "created_at", "updated_at")
	if err := o.unsupported("ordering", nil, " (dynamic plugin ordering)"); err != nil {
		return nil, err
	}
	conf, err := o.sub("config", fmt.Sprintf("config of plugin %q", name))
	if err != nil {
		return nil, err
	}
	impl, err := spec.build(conf, p)
	if err != nil {
		return nil, err
	}
	if err := conf.done(); err != nil {
		return nil, err
	}
	pl.impl = impl
	return pl, o.done()
}

// routePlugins merges the plugins that apply to a route as Kong does: for
// each plugin name the most specific instance wins (route+service, then
// route, then service, then global); the result runs in priority order.
func (c *Config) routePlugins(r *Route) []*Plugin {
	chosen := map[string]*Plugin{}
	rank := map[string]int{}
	consider := func(p *Plugin, level int) {
		// Kong loads enabled plugins only: a disabled instance shadows nothing.
		if p.Enabled && level > rank[p.Name] {
			chosen[p.Name], rank[p.Name] = p, level
		}
	}
	for _, p := range c.Plugins {
		consider(p, 1)
	}
	for _, p := range r.Service.Plugins {
		consider(p, 2)
	}
	for _, p := range r.Plugins {
		switch {
		case p.Service == nil:
			consider(p, 3)
		case p.Service == r.Service:
			consider(p, 4)
		}
	}
	out := make([]*Plugin, 0, len(chosen))
	for _, p := range chosen {
		out = append(out, p)
	}
	sort.SliceStable(out, func(i, j int) bool {
		pi, pj := pluginSpecs[out[i].Name].priority, pluginSpecs[out[j].Name].priority
		if pi != pj {
			return pi > pj
		}
		return out[i].Name < out[j].Name
	})
	return out
}
