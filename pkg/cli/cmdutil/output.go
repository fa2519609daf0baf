package cmdutil

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// Table prints aligned columns with text/tabwriter.
type Table struct{ tw *tabwriter.Writer }

// NewTable starts a table with a header row.
func NewTable(w io.Writer, header ...string) *Table {
	t := &Table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.Row(header...)
	return t
}

// Row adds a row; tabs and newlines in cells become spaces.
func (t *Table) Row(cells ...string) {
	clean := make([]string, len(cells))
	for i, c := range cells {
		clean[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(c)
		if clean[i] == "" {
			clean[i] = "-"
		}
	}
	fmt.Fprintln(t.tw, strings.Join(clean, "\t"))
}

// Flush writes the table.
func (t *Table) Flush() error { return t.tw.Flush() }

// FormatTime prints a timestamp for humans (UTC, to the second).
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// FormatTimePtr is FormatTime for optional timestamps.
func FormatTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return FormatTime(*t)
}

// Ellipsis shortens s to n runes.
func Ellipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// PrintFields prints "Label: value" lines aligned.
func PrintFields(w io.Writer, kv ...string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	for i := 0; i+1 < len(kv); i += 2 {
		v := kv[i+1]
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(tw, "%s:\t%s\n", kv[i], v)
	}
	return tw.Flush()
}

// CompactJSON prints raw JSON on one line for tables ("" for {} or null).
func CompactJSON(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" || s == "{}" {
		return ""
	}
	var v any
	if json.Unmarshal(raw, &v) == nil {
		if b, err := json.Marshal(v); err == nil {
			return string(b)
		}
	}
	return s
}

// ParseJSONFlag checks a flag that holds JSON.
func ParseJSONFlag(flag, value string) (json.RawMessage, error) {
	if value == "" {
		return nil, nil
	}
	if !json.Valid([]byte(value)) {
		return nil, FlagErrorf("--%s is not valid JSON: %s", flag, Ellipsis(value, 60))
	}
	return json.RawMessage(value), nil
}

// JSONFlagValue is a flag that holds JSON, and what it was given.
type JSONFlagValue struct{ Name, Value string }

// CheckJSONFlags checks the flags of a command that hold JSON, as
// ParseJSONFlag does: the first one given that is not valid JSON is the
// error.
func CheckJSONFlags(flags ...JSONFlagValue) error {
	for _, fl := range flags {
		if _, err := ParseJSONFlag(fl.Name, fl.Value); err != nil {
			return err
		}
	}
	return nil
}

// ReadFileOrStdin reads the file at path, or at most limit bytes of in
// when path is "-": what every flag that names an input file accepts.
// Stdin is bounded because nothing stops a pipe from being endless.
func ReadFileOrStdin(in io.Reader, path string, limit int64) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(io.LimitReader(in, limit))
	}
	return os.ReadFile(path)
}

// ReadInput reads what (as errors name it) from a file, or from at most
// limit bytes of stdin when path is "-", and refuses an empty one.
func ReadInput(ios *IOStreams, path, what string, limit int64) ([]byte, error) {
	raw, err := ReadFileOrStdin(ios.In, path, limit)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if strings.TrimSpace(string(raw)) == "" {
		return nil, FlagErrorf("%s is empty", what)
	}
	return raw, nil
}

// ReadJSONInput reads JSON from a file, or from stdin when path is "-".
func ReadJSONInput(ios *IOStreams, path, what string) (json.RawMessage, error) {
	raw, err := ReadInput(ios, path, what, 64<<20)
	if err != nil {
		return nil, err
	}
	if !json.Valid(raw) {
		src := path
		if path == "-" {
			src = "stdin"
		}
		return nil, FlagErrorf("%s from %s is not valid JSON", what, src)
	}
	return json.RawMessage(raw), nil
}

// Confirm asks before a destructive action: --yes skips the question;
// without a terminal the command refuses unless --yes is given.
func Confirm(ios *IOStreams, yes bool, question string) error {
	if yes {
		return nil
	}
	if !ios.IsStdinTTY() {
		return FlagErrorf("%s: pass --yes to confirm", strings.TrimSuffix(question, "?"))
	}
	fmt.Fprintf(ios.ErrOut, "%s [y/N] ", question)
	line, _ := bufio.NewReader(ios.In).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return &ExitError{Code: ExitFailure, Err: fmt.Errorf("cancelled")}
}

// PrintNext tells where the next page starts, on stderr.
func PrintNext(ios *IOStreams, next string) {
	if next != "" {
		fmt.Fprintf(ios.ErrOut, "More results: add --cursor %s (or --all).\n", next)
	}
}

// YesNo prints a boolean cell.
func YesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// ShortID is the first 8 characters of an id: enough for people to tell
// resources apart in a table or a progress line.
func ShortID(id string) string {
	if len(id) >= 8 {
		return id[:8]
	}
	return id
}

// PrintCreated reports what a command made: with asJSON, v as JSON;
// otherwise msg on stderr and key (its id, or what else names it) alone on
// stdout, for scripts to capture.
func PrintCreated(ios *IOStreams, asJSON bool, v any, key, msg string) error {
	if asJSON {
		return WriteJSON(ios.Out, v)
	}
	fmt.Fprintln(ios.ErrOut, msg)
	fmt.Fprintln(ios.Out, key)
	return nil
}
