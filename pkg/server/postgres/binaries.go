package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ErrBinariesNotFound is returned when no PostgreSQL server binaries can be
// found. Its message says how to install them.
var ErrBinariesNotFound = errors.New("PostgreSQL server binaries (initdb, postgres) not found; " +
	"install them (Debian/Ubuntu: `apt-get install postgresql`) or point SFP_PG_BIN at their directory")

// Binaries is a directory holding initdb and postgres of one major version.
type Binaries struct {
	Dir     string // directory holding initdb, postgres, pg_ctl
	Major   int    // major version, e.g. 15
	Version string // full version string, e.g. "15.18"
}

// Path returns the path of the named program in the binaries directory.
func (b Binaries) Path(program string) string { return filepath.Join(b.Dir, program) }

// searchSpec is what FindBinaries looks at; tests replace it.
type searchSpec struct {
	envDir    string   // SFP_PG_BIN
	pathDirs  []string // PATH entries
	globRoots []string // e.g. /usr/lib/postgresql/*/bin
	cache     versionCache
}

func defaultSearch() searchSpec {
	return searchSpec{
		envDir:    os.Getenv("SFP_PG_BIN"),
		pathDirs:  filepath.SplitList(os.Getenv("PATH")),
		globRoots: []string{"/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/opt/postgresql@*/bin", "/usr/local/opt/postgresql@*/bin"},
	}
}

// FindBinaries locates the PostgreSQL server binaries: the directory named by
// SFP_PG_BIN if set (and then only it), else the first PATH entry that has
// both initdb and postgres, else the newest /usr/lib/postgresql/*/bin.
func FindBinaries(ctx context.Context) (Binaries, error) {
	return findBinaries(ctx, defaultSearch())
}

// FindBinariesCached is FindBinaries remembering the binaries' versions in
// cacheFile (see versionCache); "" caches nothing.
func FindBinariesCached(ctx context.Context, cacheFile string) (Binaries, error) {
	s := defaultSearch()
	s.cache = versionCache{path: cacheFile}
	return findBinaries(ctx, s)
}

func findBinaries(ctx context.Context, s searchSpec) (Binaries, error) {
	if s.envDir != "" {
		if !hasServer(s.envDir) {
			return Binaries{}, fmt.Errorf("SFP_PG_BIN=%s does not contain initdb and postgres: %w", s.envDir, ErrBinariesNotFound)
		}
		return s.cache.inspect(ctx, s.envDir)
	}
	for _, dir := range s.pathDirs {
		if dir != "" && hasServer(dir) {
			// PATH often holds symlinks (/usr/local/bin/postgres ->
			// /usr/lib/postgresql/15/bin/postgres); use the real directory,
			// where the sibling tools (pg_ctl, pg_dump) are.
			if real, err := filepath.EvalSymlinks(filepath.Join(dir, "postgres")); err == nil && hasServer(filepath.Dir(real)) {
				dir = filepath.Dir(real)
			}
			return s.cache.inspect(ctx, dir)
		}
	}
	var candidates []Binaries
	for _, pattern := range s.globRoots {
		dirs, _ := filepath.Glob(pattern)
		for _, dir := range dirs {
			if !hasServer(dir) {
				continue
			}
			b, err := s.cache.inspect(ctx, dir)
			if err != nil {
				continue
			}
			candidates = append(candidates, b)
		}
	}
	if len(candidates) == 0 {
		return Binaries{}, ErrBinariesNotFound
	}
	sort.SliceStable(candidates, func(i, j int) bool {
		return versionLess(candidates[j].Version, candidates[i].Version)
	})
	return candidates[0], nil
}

func hasServer(dir string) bool {
	for _, p := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)(?:\.(\d+))?`)

// inspect runs `postgres --version` to learn the major version.
func inspect(ctx context.Context, dir string) (Binaries, error) {
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "postgres"), "--version").Output()
	if err != nil {
		return Binaries{}, fmt.Errorf("run %s --version: %w", filepath.Join(dir, "postgres"), err)
	}
	m := versionRE.FindSubmatch(bytes.TrimSpace(out))
	if m == nil {
		return Binaries{}, fmt.Errorf("unrecognised version output from %s: %q", filepath.Join(dir, "postgres"), out)
	}
	major, _ := strconv.Atoi(string(m[1]))
	version := string(m[1])
	if len(m[2]) > 0 {
		version += "." + string(m[2])
	}
	return Binaries{Dir: dir, Major: major, Version: version}, nil
}

func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x < y
		}
	}
	return len(pa) < len(pb)
}
