package rest

import (
	"net/http"
	"strconv"
	"strings"
)

// prefs are the recognised Prefer tokens (RFC 7240), first one wins.
type prefs struct {
	ret         string // representation, minimal, headers-only
	count       string // exact, planned, estimated
	resolution  string // merge-duplicates, ignore-duplicates
	missing     string // default, null
	tx          string // commit, rollback
	handling    string // strict, lenient
	timezone    string
	maxAffected int64 // -1 = none
	invalid     []string
}

func parsePrefs(h http.Header, timezones zoneSet) prefs {
	p := prefs{maxAffected: -1}
	for _, line := range h.Values("Prefer") {
		for _, tok := range strings.Split(line, ",") {
			tok = strings.TrimSpace(tok)
			if tok == "" {
				continue
			}
			k, v, _ := strings.Cut(tok, "=")
			set := func(dst *string, allowed ...string) bool {
				for _, a := range allowed {
					if v == a {
						if *dst == "" {
							*dst = v
						}
						return true
					}
				}
				return false
			}
			ok := false
			switch k {
			case "return":
				ok = set(&p.ret, "representation", "minimal", "headers-only")
			case "count":
				ok = set(&p.count, "exact", "planned", "estimated")
			case "resolution":
				ok = set(&p.resolution, "merge-duplicates", "ignore-duplicates")
			case "missing":
				ok = set(&p.missing, "default", "null")
			case "tx":
				ok = set(&p.tx, "commit", "rollback")
			case "handling":
				ok = set(&p.handling, "strict", "lenient")
			case "timezone":
				if timezones.has(v) {
					if p.timezone == "" {
						p.timezone = v
					}
					ok = true
				}
			case "max-affected":
				if n, err := strconv.ParseInt(v, 10, 64); err == nil {
					if p.maxAffected < 0 {
						p.maxAffected = n
					}
					ok = true
				}
			}
			if !ok {
				p.invalid = append(p.invalid, tok)
			}
		}
	}
	return p
}

// honoured is the part of p that every endpoint honours (count, tx,
// handling, timezone); each plan adds the preferences of its own kind, so
// that its Preference-Applied is plain data.
func (p prefs) honoured() prefs {
	return prefs{count: p.count, tx: p.tx, handling: p.handling, timezone: p.timezone, maxAffected: -1}
}

// strictMaxAffected is max-affected when handling=strict makes it a
// constraint, else -1.
func (p prefs) strictMaxAffected() int64 {
	if p.handling != "strict" {
		return -1
	}
	return p.maxAffected
}

// header renders Preference-Applied, in PostgREST's order, from the
// preferences a plan applied.
func (p prefs) header() string {
	var out []string
	for _, kv := range [...]struct{ key, value string }{
		{"resolution", p.resolution}, {"missing", p.missing}, {"return", p.ret}, {"count", p.count},
		{"tx", p.tx}, {"handling", p.handling}, {"timezone", p.timezone},
	} {
		if kv.value != "" {
			out = append(out, kv.key+"="+kv.value)
		}
	}
	if p.maxAffected >= 0 {
		out = append(out, "max-affected="+strconv.FormatInt(p.maxAffected, 10))
	}
	return strings.Join(out, ", ")
}
