package postgres

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The version of a binary is asked once and remembered across searches;
// a binary replaced in place (an upgrade) is asked again.
func TestBinariesVersionCache(t *testing.T) {
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	write := func(version string) {
		script := "#!/bin/sh\necho x >> '" + calls + "'\necho 'postgres (PostgreSQL) " + version + "'\n"
		if err := os.WriteFile(filepath.Join(dir, "postgres.new"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		// A new file (another inode), as a package upgrade installs one.
		if err := os.Rename(filepath.Join(dir, "postgres.new"), filepath.Join(dir, "postgres")); err != nil {
			t.Fatal(err)
		}
	}
	write("15.4")
	os.WriteFile(filepath.Join(dir, "initdb"), []byte("#!/bin/sh\n"), 0o755)
	spec := searchSpec{envDir: dir, cache: versionCache{path: filepath.Join(t.TempDir(), "versions.json")}}
	ran := func() int {
		b, _ := os.ReadFile(calls)
		return strings.Count(string(b), "x")
	}
	for i := 0; i < 3; i++ {
		b, err := findBinaries(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if b.Version != "15.4" || b.Major != 15 || b.Dir != dir {
			t.Fatalf("search %d: %+v", i, b)
		}
	}
	if n := ran(); n != 1 {
		t.Fatalf("postgres --version ran %d times for three searches, want once", n)
	}
	write("15.5")
	b, err := findBinaries(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if b.Version != "15.5" || ran() != 2 {
		t.Fatalf("after an upgrade: %+v, asked %d times; want 15.5 asked again", b, ran())
	}
	// A damaged cache file is ignored, and rewritten.
	os.WriteFile(spec.cache.path, []byte("{not json"), 0o600)
	if b, err := findBinaries(context.Background(), spec); err != nil || b.Version != "15.5" {
		t.Fatalf("with a damaged cache: %+v, %v", b, err)
	}
}
