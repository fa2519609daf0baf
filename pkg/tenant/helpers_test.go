package tenant

import (
	"os"
	"strings"
	"testing"
)

// loadConfigCase writes yaml as tn's configuration and loads tn from base
// again, for a table of configuration cases: with wantErr the load must
// fail saying it (nil is returned); without, it must succeed and the
// loaded tenant is returned (nil, reported, when it failed). Failures
// name the case.
func loadConfigCase(t *testing.T, base string, tn *Tenant, name, yaml, wantErr string) *Tenant {
	t.Helper()
	if err := os.WriteFile(tn.ConfigFile(), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Load(base, tn.Name())
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: want error containing %q, got %v", name, wantErr, err)
		}
		return nil
	}
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return nil
	}
	return got
}
