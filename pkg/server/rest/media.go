package rest

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// mediaType is what the client accepts back.
type mediaType int

const (
	mtJSON mediaType = iota
	mtSingular
	mtCSV
)

// accept is the response's media type, as negotiated from Accept.
type accept struct {
	media       mediaType
	stripNulls  bool   // nulls=stripped
	contentType string // the response's Content-Type
	// plan is "text" or "json" for application/vnd.pgrst.plan: the
	// statement's EXPLAIN in that format (media is what it is the plan
	// for); planOptions are its EXPLAIN options (analyze, verbose, ...).
	plan        string
	planOptions []string
}

// bodyKind is how a table's rows become a body of this media type.
func (a accept) bodyKind() bodyKind {
	switch a.media {
	case mtSingular:
		return bodySingle
	case mtCSV:
		return bodyCSV
	}
	return bodyArray
}

// negotiate picks the response media type from Accept as PostgREST does:
// the acceptable types by quality, the first one this server produces wins.
func negotiate(h http.Header) (accept, *apiError) {
	vals := h.Values("Accept")
	if len(vals) == 0 || strings.TrimSpace(vals[0]) == "" {
		return accept{media: mtJSON, contentType: "application/json; charset=utf-8"}, nil
	}
	// One media type without parameters (what clients send): the answer
	// the general case below would give, without its allocations.
	if !strings.ContainsAny(vals[0], ",;") {
		switch strings.TrimSpace(vals[0]) {
		case "application/json", "*/*", "application/*":
			return accept{media: mtJSON, contentType: "application/json; charset=utf-8"}, nil
		case "application/vnd.pgrst.object+json", "application/vnd.pgrst.object":
			return accept{media: mtSingular, contentType: "application/vnd.pgrst.object+json; charset=utf-8"}, nil
		}
	}
	type cand struct {
		typ    string
		params map[string]string
		q      float64
		i      int
	}
	var cands []cand
	var names []string
	for i, part := range strings.Split(vals[0], ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		segs := strings.Split(part, ";")
		c := cand{typ: strings.ToLower(strings.TrimSpace(segs[0])), q: 1, i: i, params: map[string]string{}}
		for _, s := range segs[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(s), "=")
			k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
			if k == "q" {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					c.q = f
				}
				continue
			}
			c.params[k] = v
		}
		names = append(names, part)
		cands = append(cands, c)
	}
	sort.SliceStable(cands, func(a, b int) bool { return cands[a].q > cands[b].q })
	for _, c := range cands {
		if c.q <= 0 {
			continue
		}
		strip := c.params["nulls"] == "stripped"
		switch c.typ {
		case "application/json", "*/*", "application/*":
			return accept{media: mtJSON, contentType: "application/json; charset=utf-8"}, nil
		case "application/vnd.pgrst.array+json", "application/vnd.pgrst.array":
			ct := "application/vnd.pgrst.array+json; charset=utf-8"
			if strip {
				ct = "application/vnd.pgrst.array+json; nulls=stripped; charset=utf-8"
			}
			return accept{media: mtJSON, stripNulls: strip, contentType: ct}, nil
		case "application/vnd.pgrst.object+json", "application/vnd.pgrst.object":
			ct := "application/vnd.pgrst.object+json; charset=utf-8"
			if strip {
				ct = "application/vnd.pgrst.object+json; nulls=stripped; charset=utf-8"
			}
			return accept{media: mtSingular, stripNulls: strip, contentType: ct}, nil
		case "application/vnd.pgrst.plan", "application/vnd.pgrst.plan+text", "application/vnd.pgrst.plan+json":
			if a, ok := planAccept(c.typ, c.params); ok {
				return a, nil
			}
		case "text/csv":
			return accept{media: mtCSV, contentType: "text/csv; charset=utf-8"}, nil
		}
	}
	return accept{}, newErr(406, codeMediaType, "None of these media types are available: "+strings.Join(names, ", "))
}

// Request body media types besides JSON.
const (
	bodyTypeJSON = iota
	bodyTypeCSV
	bodyTypeForm
)

// checkContentType accepts a request body declared as JSON (or not
// declared), CSV (tables only) or form-urlencoded, as PostgREST; anything
// else is 415.
func checkContentType(h http.Header, table bool) (int, *apiError) {
	ct := h.Get("Content-Type")
	if ct == "" {
		return bodyTypeJSON, nil
	}
	mt := strings.ToLower(strings.TrimSpace(strings.Split(ct, ";")[0]))
	switch mt {
	case "application/json", "application/vnd.pgrst.object+json", "application/vnd.pgrst.object", "*/*":
		return bodyTypeJSON, nil
	case "application/x-www-form-urlencoded":
		return bodyTypeForm, nil
	case "text/csv":
		if table {
			return bodyTypeCSV, nil
		}
	}
	return 0, newErr(415, codeMediaType, "None of these media types are available: "+mt)
}

// explainOptions are the EXPLAIN options a plan request may ask for.
var explainOptions = map[string]string{"analyze": "ANALYZE", "verbose": "VERBOSE", "settings": "SETTINGS", "buffers": "BUFFERS", "wal": "WAL"}

// planAccept is application/vnd.pgrst.plan[+text|+json]; for="…"
// (the media type planned for: JSON, singular or CSV) and
// options=analyze|verbose|settings|buffers|wal.
func planAccept(typ string, params map[string]string) (accept, bool) {
	a := accept{media: mtJSON, plan: "text"}
	if strings.HasSuffix(typ, "+json") {
		a.plan = "json"
	}
	forType := strings.Trim(params["for"], `"`)
	switch strings.ToLower(forType) {
	case "", "application/json":
		forType = "application/json"
	case "application/vnd.pgrst.object+json", "application/vnd.pgrst.object":
		a.media = mtSingular
	case "text/csv":
		a.media = mtCSV
	default:
		return accept{}, false
	}
	for _, o := range strings.Split(strings.Trim(params["options"], `"`), "|") {
		if opt, ok := explainOptions[strings.ToLower(strings.TrimSpace(o))]; ok {
			a.planOptions = append(a.planOptions, opt)
		}
	}
	a.contentType = "application/vnd.pgrst.plan+" + a.plan + `; for="` + forType + `"; charset=utf-8`
	return a, true
}
