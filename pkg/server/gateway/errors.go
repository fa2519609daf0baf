package gateway

import (
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"strconv"
	"strings"
)

// Kong 3's error pages (kong/tools/http.lua): the gateway's own errors
// carry the message and the request id, in the format the client's Accept
// header prefers — JSON by default, HTML, XML or plain text when asked.
// The message is escaped for the format (Kong inserts it as is; its own
// messages need no escaping, the ones naming a service here may).

const (
	mimeJSON  = "application/json; charset=utf-8"
	mimeHTML  = "text/html; charset=utf-8"
	mimeXML   = "application/xml; charset=utf-8"
	mimePlain = "text/plain; charset=utf-8"
)

// errorPage renders message and request id for the Accept header values.
func errorPage(accept []string, message, requestID string) (contentType string, body []byte) {
	contentType = responseType(accept)
	var text string
	switch contentType {
	case mimeHTML:
		text = fmt.Sprintf("<!doctype html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n    <title>Error</title>\n  </head>\n  <body>\n    <h1>Error</h1>\n    <p>%s.</p>\n    <p>request_id: %s</p>\n  </body>\n</html>\n",
			html.EscapeString(message), html.EscapeString(requestID))
	case mimeXML:
		text = fmt.Sprintf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n  <message>%s</message>\n  <requestid>%s</requestid>\n</error>\n",
			html.EscapeString(message), html.EscapeString(requestID))
	case mimePlain:
		text = message + "\nrequest_id: " + requestID + "\n"
	default:
		text = "{\n  \"message\":" + string(jsonString(message)) + ",\n  \"request_id\":" + string(jsonString(requestID)) + "\n}"
	}
	return contentType, []byte(text)
}

func jsonString(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

// acceptEntry is one media range of an Accept header with an optional q
// parameter, as Kong's get_response_type reads it (anchored at the start,
// case-insensitive).
var acceptEntry = regexp.MustCompile(`(?i)^((?:[a-z0-9][a-z0-9-!#$&^_+.]+|\*)/(?:[a-z0-9][a-z0-9-!#$&^_+.]+|\*))` +
	`(?:\s*;\s*q=(1(?:\.0{0,3})?|0(?:\.[0-9]{0,3})?)|\s*;\s*[a-z0-9][a-z0-9-!#$&^_+.]+(?:=[^;]*)?)*`)

// responseType picks the error format for an Accept header: the media
// range with the highest q (the first of equals) that names a format;
// anything else is JSON.
func responseType(accept []string) string {
	contentType := mimeJSON
	if len(accept) == 0 {
		return contentType
	}
	best := 0.0
	for _, entry := range strings.Split(strings.Join(accept, ","), ",") {
		m := acceptEntry.FindStringSubmatch(strings.TrimSpace(entry))
		if m == nil {
			continue
		}
		q := 1.0
		if m[2] != "" {
			if v, err := strconv.ParseFloat(m[2], 64); err == nil {
				q = v
			}
		}
		if q > best {
			best = q
			contentType = mimeFor(m[1])
		}
	}
	return contentType
}

// mimeFor maps a media range to an error format, as Kong's get_mime_type
// does (exact names, "type/*" by its type, anything else JSON).
func mimeFor(mediaRange string) string {
	major, minor, _ := strings.Cut(mediaRange, "/")
	if minor == "*" {
		switch major {
		case "application":
			return mimeJSON
		case "text":
			return mimePlain
		}
		return mimeJSON
	}
	switch mediaRange {
	case "text/html":
		return mimeHTML
	case "application/xml":
		return mimeXML
	case "text/plain":
		return mimePlain
	}
	return mimeJSON
}
