package docker

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case
	args string
}

func parseDockerfile(t *testing.T, data string) []instruction {
	t.Helper()
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(data, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// byCommand groups the arguments of instructions by their command, in
// order: byCommand(ins)["COPY"] are every COPY's arguments.
func byCommand(ins []instruction) map[string][]string {
	m := map[string][]string{}
	for _, in := range ins {
		m[in.cmd] = append(m[in.cmd], in.args)
	}
	return m
}

// last is the last of args ("" when none): the instruction that wins, as
// for USER and ENTRYPOINT.
func last(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[len(args)-1]
}

// TestDockerfile checks the sfp image's recipe: multi-stage, a static
// binary, a tiny final image, a non-root user, and an entrypoint that makes
// the compose service's command a sfp command line.
func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	ins := parseDockerfile(t, string(raw))
	var stages [][]instruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages: want a build stage and a final stage", len(stages))
	}
	final := stages[len(stages)-1]
	base := strings.Fields(final[0].args)[0]
	if !regexp.MustCompile(`^(gcr\.io/distroless/static(-debian[0-9]+)?(:[a-z0-9.-]+)?(@sha256:[0-9a-f]{64})?|scratch)$`).MatchString(base) {
		t.Errorf("final image %q: want distroless/static or scratch", base)
	}
	cmds := byCommand(final)
	user, entrypoint := last(cmds["USER"]), last(cmds["ENTRYPOINT"])
	copied := slices.ContainsFunc(cmds["COPY"], func(args string) bool {
		return strings.HasPrefix(args, "--from=") && strings.Contains(args, "/usr/local/bin/sfp")
	})
	for _, run := range cmds["RUN"] {
		t.Errorf("the final stage runs %q: it has no shell", run)
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0") || strings.HasPrefix(user, "root:") {
		t.Errorf("final stage USER = %q: want a non-root user", user)
	}
	if !copied {
		t.Error("the final stage does not copy the sfp binary from the build stage")
	}
	if entrypoint != `["/usr/local/bin/sfp"]` {
		t.Errorf("ENTRYPOINT %s: want [\"/usr/local/bin/sfp\"], so a compose command is sfp's arguments", entrypoint)
	}
	var build string
	for _, stage := range stages[:len(stages)-1] {
		for _, in := range stage {
			if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
				build = in.args
			}
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/sfp", "-trimpath", "github.com/sfp-dev/sfp/pkg/cli.Version="} {
		if !strings.Contains(build, want) {
			t.Errorf("the go build step %q lacks %s", build, want)
		}
	}
}

// TestDockerignore: the build context keeps what `go build ./cmd/sfp` and
// the embedded files need.
func TestDockerignore(t *testing.T) {
	root := repoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(raw), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	ignored := func(p string) bool {
		for _, pat := range patterns {
			if dockerignoreMatch(pat, p) {
				return true
			}
		}
		return false
	}
	needed := []string{"go.mod", "go.sum", "assets.go", "docker-compose.yml", "kong.yml", "Dockerfile",
		"cmd/sfp/main.go", "supabase/sql.go", "pkg/cli/root.go", "pkg/migrate/migrate.go"}
	migs, _ := filepath.Glob(filepath.Join(root, "supabase", "migrations", "*.sql"))
	plat, _ := filepath.Glob(filepath.Join(root, "supabase", "platform", "*.sql"))
	for _, f := range append(migs, plat...) {
		rel, _ := filepath.Rel(root, f)
		needed = append(needed, filepath.ToSlash(rel))
	}
	for _, p := range needed {
		if ignored(p) {
			t.Errorf(".dockerignore leaves %s out of the build context", p)
		}
	}
	for _, p := range []string{".git/config", "bin/sfp", "sfp-server/tenants/acme/.env", "test/js/node_modules/x/index.js"} {
		if !ignored(p) {
			t.Errorf(".dockerignore sends %s to the builder", p)
		}
	}
	if !slices.Contains(patterns, "**/.env") {
		t.Error(".dockerignore does not keep tenant .env files (secrets) out")
	}
}

// dockerignoreMatch is enough of Docker's matcher for these patterns: a
// pattern matches a path or any directory above it, ** matches any number
// of directories.
func dockerignoreMatch(pattern, p string) bool {
	pattern = strings.TrimPrefix(pattern, "/")
	parts := strings.Split(p, "/")
	for i := 1; i <= len(parts); i++ {
		prefix := strings.Join(parts[:i], "/")
		if globMatch(pattern, prefix) {
			return true
		}
	}
	return false
}

func globMatch(pattern, p string) bool {
	if rest, ok := strings.CutPrefix(pattern, "**/"); ok {
		segs := strings.Split(p, "/")
		for i := range segs {
			if globMatch(rest, strings.Join(segs[i:], "/")) {
				return true
			}
		}
		return false
	}
	ok, _ := path.Match(pattern, p)
	return ok
}
