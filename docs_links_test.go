package sfp

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// The README and the pages under docs/ link to each other and to sections
// of each other (`rest.md#benchmarks`); pages get split and headings
// renamed, and a newcomer following a dead link is lost. Every relative
// link must name a file that exists and, with a #fragment, a heading (or an
// explicit anchor) of that file, spelled as GitHub turns headings into
// anchors.
func TestDocLinks(t *testing.T) {
	pages, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	pages = append([]string{"README.md"}, pages...)
	if len(pages) < 10 {
		t.Fatalf("found %d Markdown pages, want README.md and docs/*.md", len(pages))
	}
	anchors := map[string]map[string]bool{}
	anchorsOf := func(path string) map[string]bool {
		if a, ok := anchors[path]; ok {
			return a
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		anchors[path] = headingAnchors(string(b))
		return anchors[path]
	}
	checked := 0
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range relativeLinks(string(b)) {
			checked++
			file, frag, _ := strings.Cut(l.target, "#")
			target := page
			if file != "" {
				target = filepath.Join(filepath.Dir(page), file)
				if _, err := os.Stat(target); err != nil {
					t.Errorf("%s:%d: link %q: no file %s", page, l.line, l.target, target)
					continue
				}
			}
			if frag == "" || !strings.HasSuffix(target, ".md") {
				continue
			}
			if a := anchorsOf(target); !a[frag] {
				t.Errorf("%s:%d: link %q: %s has no heading with the anchor #%s", page, l.line, l.target, target, frag)
			}
		}
	}
	t.Logf("checked %d relative links in %d pages", checked, len(pages))
	if checked < 20 {
		t.Fatalf("checked %d relative links, want the pages' links (the parser finds none?)", checked)
	}
}

type docLink struct {
	target string
	line   int
}

var (
	mdLink     = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	inlineCode = regexp.MustCompile("`[^`]*`")
	htmlAnchor = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)
)

// relativeLinks returns the Markdown links of a page that point into the
// repository: not URLs with a scheme, not inside code.
func relativeLinks(md string) []docLink {
	var links []docLink
	for i, line := range proseLines(md) {
		for _, m := range mdLink.FindAllStringSubmatch(inlineCode.ReplaceAllString(line, ""), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			links = append(links, docLink{target: target, line: i + 1})
		}
	}
	return links
}

// proseLines returns a page's lines with those of fenced code blocks
// blanked, for in code a "# comment" is no heading and "](x)" no link.
func proseLines(md string) []string {
	lines := strings.Split(md, "\n")
	fenced := false
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			lines[i] = ""
		} else if fenced {
			lines[i] = ""
		}
	}
	return lines
}

// headingAnchors returns the anchors GitHub gives a page's headings
// (lower case; letters, digits, spaces, hyphens and underscores kept;
// spaces to hyphens; a repeated heading gets -1, -2 …) and its explicit
// <a id="…"> anchors.
func headingAnchors(md string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, line := range proseLines(md) {
		for _, m := range htmlAnchor.FindAllStringSubmatch(line, -1) {
			anchors[m[1]] = true
		}
		if !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		slug := b.String()
		if n := seen[slug]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			anchors[slug] = true
		}
		seen[slug]++
	}
	return anchors
}

func TestHeadingAnchors(t *testing.T) {
	got := headingAnchors("# sfp\n## Quick start\n### `sfp task watch` — live\n## Quick start\n```\n# not a heading\n```\n<a id=\"x-y\"></a>\n## Où, 100%?\n")
	for _, want := range []string{"sfp", "quick-start", "sfp-task-watch--live", "quick-start-1", "x-y", "où-100"} {
		if !got[want] {
			t.Errorf("anchor %q missing from %v", want, got)
		}
	}
	if got["not-a-heading"] {
		t.Error("a line in a code block became a heading")
	}
}
