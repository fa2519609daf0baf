package cmdutil

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/spf13/cobra"
)

// WriteJSON writes v as indented JSON followed by a newline: the stable
// machine-readable output of every command's --json flag.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// JSONFieldsAnnotation is the command annotation that lists the top-level
// fields of its --json output; the command reference prints it.
const JSONFieldsAnnotation = "sfp.json-fields"

// JSONFlag registers --json (usage "" means "Output JSON") and records the
// fields of what it prints — shape is a value of that type: a struct, a
// pointer to one or a slice of them — so that the reference documents the
// field names from the types that produce them, and they cannot drift.
func JSONFlag(cmd *cobra.Command, p *bool, usage string, shape any) {
	if usage == "" {
		usage = "Output JSON"
	}
	cmd.Flags().BoolVar(p, "json", false, usage)
	if fields := JSONFields(reflect.TypeOf(shape)); len(fields) > 0 {
		if cmd.Annotations == nil {
			cmd.Annotations = map[string]string{}
		}
		cmd.Annotations[JSONFieldsAnnotation] = strings.Join(fields, ", ")
	}
}

// JSONFields lists the JSON field names of t in order, with embedded
// structs' fields in place, as encoding/json flattens them.
func JSONFields(t reflect.Type) []string {
	for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice) {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || (!f.IsExported() && !f.Anonymous):
		case f.Anonymous && name == "":
			out = append(out, JSONFields(f.Type)...)
		case name != "":
			out = append(out, name)
		default:
			out = append(out, f.Name)
		}
	}
	return out
}
