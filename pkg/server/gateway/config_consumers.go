package gateway

import (
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Consumers and their credentials (acls, key-auth, basic-auth).

func (p *parser) consumer(n *yaml.Node) error {
	o, err := p.d.object(n, "consumer")
	if err != nil {
		return err
	}
	c := &Consumer{Line: o.node.Line}
	if c.Username, err = o.str("username", ""); err != nil {
		return err
	}
	if c.CustomID, err = o.str("custom_id", ""); err != nil {
		return err
	}
	if c.ID, err = o.str("id", ""); err != nil {
		return err
	}
	if c.Username == "" && c.CustomID == "" {
		return p.d.errf(o.node, "consumer needs a username or a custom_id")
	}
	label := c.Username
	if label == "" {
		label = c.CustomID
	}
	o.what = fmt.Sprintf("consumer %q", label)
	if c.Username != "" {
		if _, dup := p.consumers[c.Username]; dup {
			return p.d.errf(o.line("username"), "consumer username %q is used twice", c.Username)
		}
		p.consumers[c.Username] = c
	}
	if c.ID == "" {
		c.ID = stableUUID("consumer", label)
	}
	if _, dup := p.consumers[c.ID]; dup && c.Username != c.ID {
		return p.d.errf(o.line("id"), "consumer id %q is used twice", c.ID)
	}
	p.consumers[c.ID] = c
	o.ignore("tags")
	if err := o.unsupported("plugins", isEmptyList, " (consumer-scoped plugins)"); err != nil {
		return err
	}
	p.cfg.Consumers = append(p.cfg.Consumers, c)
	if err := p.consumerEntities(o, c); err != nil {
		return err
	}
	return o.done()
}

// consumerEntities reads o's acls and credentials: those of consumer c
// when o is the consumer, or, with c nil, the top-level lists whose
// entries each name their consumer.
func (p *parser) consumerEntities(o *object, c *Consumer) error {
	for _, kind := range []string{"acls", "keyauth_credentials", "basicauth_credentials"} {
		items, err := o.list(kind)
		if err != nil {
			return err
		}
		for _, n := range items {
			if err := p.consumerEntity(kind, n, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// consumerEntity decodes an acl group or a credential, nested in a consumer
// (c != nil) or top-level with a consumer reference.
func (p *parser) consumerEntity(kind string, n *yaml.Node, c *Consumer) error {
	what := map[string]string{"acls": "acl", "keyauth_credentials": "key-auth credential", "basicauth_credentials": "basic-auth credential"}[kind]
	o, err := p.d.object(n, what)
	if err != nil {
		return err
	}
	if c == nil {
		if c, err = resolveRef(p, o, "consumer", what, p.consumers); err != nil {
			return err
		}
		if c == nil {
			return p.d.errf(o.node, "%s needs a consumer", what)
		}
	}
	id, err := o.str("id", "")
	if err != nil {
		return err
	}
	o.ignore("tags", "created_at")
	switch kind {
	case "acls":
		g, err := o.str("group", "")
		if err != nil {
			return err
		}
		if g == "" {
			return p.d.errf(o.node, "acl needs a group")
		}
		c.Groups = append(c.Groups, g)
	case "keyauth_credentials":
		key, err := o.str("key", "")
		if err != nil {
			return err
		}
		if key == "" {
			// The official Kong entrypoint deletes "- key:" lines left
			// empty by the substitution before Kong reads the file: a key
			// the tenant does not have (a revoked secret key, the legacy
			// keys switched off) is no credential, not an error.
			o.ignore("ttl")
			return o.done()
		}
		if err := o.unsupported("ttl", func(n *yaml.Node) bool { return n.Value == "0" }, " (expiring keys)"); err != nil {
			return err
		}
		if prev, dup := p.cfg.keys[key]; dup {
			return p.d.errf(o.line("key"), "key-auth key of consumer %q is already the key of consumer %q (line %d)", c.Username, prev.consumer.Username, prev.line)
		}
		if id == "" {
			id = stableUUID("keyauth", c.ID+"/"+strconv.Itoa(len(p.cfg.keys)))
		}
		p.cfg.keys[key] = credential{consumer: c, id: id, line: o.node.Line}
	default:
		user, err := o.str("username", "")
		if err != nil {
			return err
		}
		pass, err := o.str("password", "")
		if err != nil {
			return err
		}
		if user == "" {
			return p.d.errf(o.node, "basic-auth credential of consumer %q needs a username", c.Username)
		}
		if prev, dup := p.cfg.basics[user]; dup {
			return p.d.errf(o.line("username"), "basic-auth username is used twice (also on line %d)", prev.line)
		}
		if id == "" {
			id = stableUUID("basicauth", c.ID+"/"+user)
		}
		p.cfg.basics[user] = credential{consumer: c, id: id, secret: pass, line: o.node.Line}
	}
	return o.done()
}
