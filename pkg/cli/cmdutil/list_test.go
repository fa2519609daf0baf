package cmdutil

import "testing"

// A list that is not paged prints JSON (an empty array for none), a table,
// or — for a person and no items — the hint alone on stderr. Without a
// hint (PrintList's pages) an empty list is a bare header.
func TestPrintItems(t *testing.T) {
	row := func(s string) []string { return []string{s, ""} }
	for _, tc := range []struct {
		name        string
		asJSON      bool
		items       []string
		none        string
		out, errOut string
	}{
		{"json", true, []string{"a"}, "hint", "[\n  \"a\"\n]\n", ""},
		{"json none", true, []string{}, "hint", "[]\n", ""},
		{"table", false, []string{"a", "bb"}, "hint", "NAME  X\na     -\nbb    -\n", ""},
		{"none with hint", false, nil, "No items; add one.", "", "No items; add one.\n"},
		{"none without hint", false, nil, "", "NAME  X\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ios, _, out, errOut := Test()
			if err := PrintItems(ios, tc.asJSON, tc.items, tc.none, []string{"NAME", "X"}, row); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.out || errOut.String() != tc.errOut {
				t.Fatalf("stdout %q, stderr %q; want %q, %q", out, errOut, tc.out, tc.errOut)
			}
		})
	}
}
