package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
)

type requestTermination struct {
	status      int
	message     string
	body        string
	contentType string
}

// Kong's request-termination default messages.
var terminationMessages = map[int]string{
	401: "Unauthorized", 404: "Not found", 405: "Method not allowed",
	500: "An unexpected error occurred", 502: "Bad Gateway", 503: "Service unavailable",
}

func buildRequestTermination(conf *object, p *parser) (plugin, error) {
	t := &requestTermination{}
	var err error
	if t.status, err = conf.integer("status_code", 503); err != nil {
		return nil, err
	}
	if t.message, err = conf.str("message", ""); err != nil {
		return nil, err
	}
	if t.body, err = conf.str("body", ""); err != nil {
		return nil, err
	}
	if t.contentType, err = conf.str("content_type", ""); err != nil {
		return nil, err
	}
	if err := conf.unsupported("echo", isFalse, ""); err != nil {
		return nil, err
	}
	for _, f := range []string{"echo_trigger", "trigger"} {
		if err := conf.unsupported(f, nil, ""); err != nil {
			return nil, err
		}
	}
	if err := conf.done(); err != nil {
		return nil, err
	}
	if t.status < 100 || t.status > 599 {
		return nil, p.d.errf(conf.line("status_code"), "%s: status_code %d is not between 100 and 599", conf.what, t.status)
	}
	if t.message != "" && (t.body != "" || t.contentType != "") {
		return nil, p.d.errf(conf.node, "%s: message cannot be used with content_type or body", conf.what)
	}
	if t.contentType != "" && t.body == "" {
		return nil, p.d.errf(conf.line("content_type"), "%s: content_type requires a body", conf.what)
	}
	if t.message == "" && t.body == "" {
		t.message = terminationMessages[t.status]
	}
	return t, nil
}

func (t *requestTermination) access(*exchange) *reply {
	if t.body != "" {
		rep := &reply{status: t.status, header: http.Header{}, body: []byte(t.body)}
		if t.contentType != "" {
			rep.header.Set("Content-Type", t.contentType)
		}
		return rep
	}
	if t.message == "" {
		return &reply{status: t.status, header: http.Header{}}
	}
	// kong.response.exit with {message = …}: plain JSON, no request id.
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{t.message})
	rep := &reply{status: t.status, header: http.Header{}, body: body}
	rep.header.Set("Content-Type", mimeJSON)
	return rep
}

// validHeaderName reports whether s is an RFC 7230 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}
