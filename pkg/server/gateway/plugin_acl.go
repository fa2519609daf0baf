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
	allow, err := aclGroups(conf, p, "allow", "whitelist")
	if err != nil {
		return nil, err
	}
	deny, err := aclGroups(conf, p, "deny", "blacklist")
	if err != nil {
		return nil, err
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

// aclGroups reads the group list name and, in a Kong 2.x configuration,
// the old name it had there (whitelist, blacklist), which 2.x still reads.
func aclGroups(conf *object, p *parser, name, oldName string) ([]string, error) {
	groups, err := conf.strings(name)
	if err != nil || p.v30 {
		return groups, err
	}
	old, err := conf.strings(oldName)
	if err != nil {
		return nil, err
	}
	return append(groups, old...), nil
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
