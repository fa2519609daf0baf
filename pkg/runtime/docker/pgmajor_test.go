package docker

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sfp-dev/sfp"
	"github.com/sfp-dev/sfp/pkg/runtime"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

const pg15Image = "supabase/postgres:15.8.1.085"

// onPostgres15 puts the previous release's project into the tenant
// directory: this release's compose file with the db image of PostgreSQL 15.
func onPostgres15(t *testing.T, tn *tenant.Tenant) []byte {
	t.Helper()
	cur, err := effectiveDBImage(sfp.ComposeFile(), nil)
	if err != nil {
		t.Fatal(err)
	}
	old := bytes.Replace(sfp.ComposeFile(), []byte("image: "+cur), []byte("image: "+pg15Image), 1)
	if bytes.Equal(old, sfp.ComposeFile()) {
		t.Fatal("could not find the db image in docker-compose.yml")
	}
	if err := os.WriteFile(filepath.Join(tn.Dir, ComposeFileName), old, 0o644); err != nil {
		t.Fatal(err)
	}
	return old
}

func tenantFiles(t *testing.T, tn *tenant.Tenant) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, name := range []string{ComposeFileName, KongFileName, ".env", OverrideFileName} {
		b, err := os.ReadFile(filepath.Join(tn.Dir, name))
		if err == nil {
			out[name] = b
		}
	}
	return out
}

func TestUpdateRefusesPostgresMajorChange(t *testing.T) {
	tn := dockerTenant(t, Options{})
	onPostgres15(t, tn)
	before := tenantFiles(t, tn)
	fake := updateFake(allUp(), func(c Cmd) (Result, error) { t.Fatal("the migrations ran"); return Result{}, nil })
	fake.pgVersion = "15"
	_, err := New(Options{Runner: fake, BuildContext: "/src"}).Update(context.Background(), tn, runtime.UpdateOptions{})
	if !errors.Is(err, ErrPostgresMajor) {
		t.Fatalf("error = %v, want ErrPostgresMajor", err)
	}
	var pe *PostgresMajorError
	if !errors.As(err, &pe) || pe.DataMajor != 15 || pe.ImageMajor != 17 || pe.Previous != pg15Image || pe.Volume != "sfp-acme_db-data" {
		t.Errorf("error details = %+v", pe)
	}
	for _, want := range []string{"PostgreSQL 15", "supabase/postgres:17.6.1.136 (PostgreSQL 17)", "nothing was changed",
		"image: " + pg15Image, filepath.Join(tn.Dir, OverrideFileName), "sfp server update -t acme", "docs/postgres-upgrade.md"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	want := []string{"run --rm --no-TTY --no-deps --entrypoint cat db " + pgDataVersionFile}
	if got := fake.composeCalls(); !slices.Equal(got, want) {
		t.Errorf("compose calls = %q, want only the read of PG_VERSION", got)
	}
	after := tenantFiles(t, tn)
	for name, b := range before {
		if !bytes.Equal(after[name], b) {
			t.Errorf("the refused update changed %s", name)
		}
	}
}

func TestUpdatePostgresMajorAllowed(t *testing.T) {
	cases := []struct {
		name      string
		pgVersion string
		override  string
		old15     bool
	}{
		{"a pin to the data's version in the override", "15", "services:\n  db:\n    image: " + pg15Image + "\n", true},
		{"data already upgraded", "17", "", true},
		{"no data volume yet", "", "", true},
		{"same major", "17", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tn := dockerTenant(t, Options{})
			if tc.old15 {
				onPostgres15(t, tn)
			}
			if tc.override != "" {
				if err := os.WriteFile(filepath.Join(tn.Dir, OverrideFileName), []byte(tc.override), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			fake := updateFake(allUp(), func(c Cmd) (Result, error) {
				return Result{Stdout: []byte(`{"dry_run":false,"applied":[]}` + "\n")}, nil
			})
			fake.pgVersion = tc.pgVersion
			if _, err := New(Options{Runner: fake, BuildContext: "/src"}).Update(context.Background(), tn, runtime.UpdateOptions{}); err != nil {
				t.Fatalf("update: %v", err)
			}
			if !slices.Contains(fake.composeCalls(), "run --rm --no-TTY supabase-migrations") {
				t.Errorf("the update did not run the migrations: %q", fake.composeCalls())
			}
			if got, _ := os.ReadFile(filepath.Join(tn.Dir, ComposeFileName)); !bytes.Equal(got, sfp.ComposeFile()) {
				t.Error("the update did not write this release's docker-compose.yml")
			}
		})
	}
}

// When PG_VERSION cannot be read, the db image of the tenant's compose
// files stands for the data.
func TestUpdatePostgresMajorUnreadableVolume(t *testing.T) {
	tn := dockerTenant(t, Options{})
	onPostgres15(t, tn)
	fake := updateFake(allUp(), func(c Cmd) (Result, error) { return Result{}, nil })
	fake.pgVersion = "garbage"
	_, err := New(Options{Runner: fake, BuildContext: "/src"}).Update(context.Background(), tn, runtime.UpdateOptions{})
	var pe *PostgresMajorError
	if !errors.As(err, &pe) || pe.DataMajor != 15 {
		t.Fatalf("error = %v, want a refusal judged by the compose file", err)
	}
}

func TestImageMajor(t *testing.T) {
	for image, want := range map[string]int{
		"supabase/postgres:17.6.1.136":                  17,
		"supabase/postgres:15.8.1.085":                  15,
		"public.ecr.aws/supabase/postgres:17.4.1.054":   17,
		"supabase/postgres:15.8.1.085@sha256:abcd":      15,
		"registry.example.com/supabase/postgres:16.1.0": 16,
		"postgres:17":              0,
		"supabase/postgres":        0,
		"supabase/postgres:latest": 0,
	} {
		got, ok := imageMajor(image)
		if got != want || ok != (want != 0) {
			t.Errorf("imageMajor(%q) = %d, %v; want %d", image, got, ok, want)
		}
	}
}

func TestEffectiveDBImage(t *testing.T) {
	compose := []byte("services:\n  db:\n    image: supabase/postgres:17.6.1.136\n  auth:\n    image: x\n")
	if got, err := effectiveDBImage(compose, nil); err != nil || got != "supabase/postgres:17.6.1.136" {
		t.Errorf("compose only: %q %v", got, err)
	}
	if got, err := effectiveDBImage(compose, []byte("services:\n  auth:\n    environment: {A: b}\n")); err != nil || got != "supabase/postgres:17.6.1.136" {
		t.Errorf("override without db: %q %v", got, err)
	}
	if got, err := effectiveDBImage(compose, []byte("services:\n  db:\n    image: "+pg15Image+"\n")); err != nil || got != pg15Image {
		t.Errorf("override pins db: %q %v", got, err)
	}
	if _, err := effectiveDBImage([]byte("services: {}\n"), nil); err == nil {
		t.Error("a compose file without db: no error")
	}
}
