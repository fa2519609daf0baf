package gateway

import (
	"net/http"
	"strings"
)

type aclPlugin struct {
	groups     map[string]bool
	deny       bool
	hideGroups bool
}

func buildACL(conf *object, p *parser) (plugin, error) {
	a := &aclPlugin{groups: map[string]bool{}}
	allow, err := conf.strings("allow")
	if err != nil {
		return nil, err
	}
	deny, err := conf.strings("deny")
	if err != nil {
		return nil, err
	}
	if !p.v30 { // Kong 2.x still reads the old names
		w, err := conf.strings("whitelist")
		if err != nil {
			return nil, err
		}
		bl, err := conf.strings("blacklist")
		if err != nil {
			return nil, err
		}
		allow, deny = append(allow, w...), append(deny, bl...)
	}
	if a.hideGroups, err = conf.boolean("hide_groups_header", false); err != nil {
		return nil, err
	}
	if err := conf.done(); err != nil { // a misspelt field explains more than what follows
		return nil, err
	}
	if len(allow) > 0 && len(deny) > 0 {
		return nil, p.d.errf(conf.node, "%s: set either allow or deny, not both", conf.what)
	}
	if len(allow) == 0 && len(deny) == 0 {
		return nil, p.d.errf(conf.node, "%s: one of allow or deny is required", conf.what)
	}
	list := allow
	if len(deny) > 0 {
		a.deny, list = true, deny
	}
	for _, g := range list {
		a.groups[g] = true
	}
	return a, nil
}

func (a *aclPlugin) access(x *exchange) *reply {
	if x.consumer == nil {
		return kongError(http.StatusUnauthorized, "Unauthorized")
	}
	in := false
	for _, g := range x.consumer.Groups {
		if a.groups[g] {
			in = true
			break
		}
	}
	if in == a.deny {
		return kongError(http.StatusForbidden, "You cannot consume this service")
	}
	if !a.hideGroups && len(x.consumer.Groups) > 0 {
		x.header[hConsumerGroups] = x.g.value(strings.Join(x.consumer.Groups, ", "))
	}
	return nil
}
