package cmdutil

import (
	"io"
	"log/slog"
	"strings"
)

// NewLogger returns the process's structured logger writing to w: text
// lines for people, or with SFP_LOG_FORMAT=json one JSON object per line
// for a log pipeline (a detached tenant's sfp.log included: the child
// inherits the variable). Either way the same attributes: component,
// request_id, method, path, status, duration. Another value is warned
// about, once, and text is written.
func NewLogger(w io.Writer, getenv func(string) string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	switch format := getenv("SFP_LOG_FORMAT"); strings.ToLower(format) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts))
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts))
	default:
		log := slog.New(slog.NewTextHandler(w, opts))
		log.Warn("SFP_LOG_FORMAT is neither text nor json; writing text", "SFP_LOG_FORMAT", format)
		return log
	}
}
