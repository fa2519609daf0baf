package docker

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/sfp-dev/sfp/pkg/tenant"
)

// fakeELF writes a minimal 64-bit little-endian ELF executable header for
// this architecture: static, or dynamically linked (a PT_INTERP program
// header), with extra bytes so copies can be told apart.
func fakeELF(t *testing.T, dynamic bool, extra string) string {
	t.Helper()
	machine, ok := elfMachines[runtime.GOARCH]
	if !ok {
		t.Skipf("no ELF machine known for %s", runtime.GOARCH)
	}
	var b bytes.Buffer
	ident := [16]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT), byte(elf.ELFOSABI_NONE)}
	b.Write(ident[:])
	le := binary.LittleEndian
	w := func(v any) { _ = binary.Write(&b, le, v) }
	w(uint16(elf.ET_EXEC))
	w(uint16(machine))
	w(uint32(elf.EV_CURRENT))
	w(uint64(0x401000)) // entry
	w(uint64(64))       // program headers right after this header
	w(uint64(0))        // no section headers
	w(uint32(0))
	w(uint16(64)) // header size
	w(uint16(56)) // program header size
	w(uint16(1))  // one program header
	w(uint16(64))
	w(uint16(0))
	w(uint16(0))
	typ := elf.PT_LOAD
	if dynamic {
		typ = elf.PT_INTERP
	}
	w(uint32(typ))
	w(uint32(elf.PF_R | elf.PF_X))
	for i := 0; i < 6; i++ {
		w(uint64(0))
	}
	b.WriteString(extra)
	path := filepath.Join(t.TempDir(), "sfp")
	if err := os.WriteFile(path, b.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUsableInImage(t *testing.T) {
	if err := usableInImage(fakeELF(t, false, "")); err != nil {
		t.Errorf("static executable: %v", err)
	}
	if err := usableInImage(fakeELF(t, true, "")); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("dynamic executable: %v", err)
	}
	script := filepath.Join(t.TempDir(), "sfp")
	os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755)
	if err := usableInImage(script); err == nil {
		t.Error("a script is usable in the image")
	}
}

// A static sfp builds its image from a copy of itself in the tenant
// directory, stamped with its version: no checkout, no compiler.
func TestImageFromRunningBinary(t *testing.T) {
	exe := fakeELF(t, false, "build 1")
	outside := t.TempDir()
	opts := Options{Version: "v1.4.0", Executable: func() (string, error) { return exe, nil },
		Getwd: func() (string, error) { return outside, nil }}
	base := t.TempDir()
	tn, err := tenant.Create(base, tenant.CreateOptions{Name: "acme", Runtime: tenant.RuntimeDocker})
	if err != nil {
		t.Fatal(err)
	}
	if err := New(opts).Init(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	env := envOf(t, tn)
	if env["SFP_BUILD_CONTEXT"] != "./sfp-image" || env["SFP_VERSION"] != "v1.4.0" || env["SFP_IMAGE"] != "sfp:v1.4.0" {
		t.Errorf(".env: SFP_BUILD_CONTEXT=%q SFP_VERSION=%q SFP_IMAGE=%q", env["SFP_BUILD_CONTEXT"], env["SFP_VERSION"], env["SFP_IMAGE"])
	}
	ctxDir := filepath.Join(tn.Dir, ImageContextDir)
	if got, _ := os.ReadFile(filepath.Join(ctxDir, "Dockerfile")); !bytes.Equal(got, imageDockerfile) {
		t.Error("the image context has no (or another) Dockerfile")
	}
	want, _ := os.ReadFile(exe)
	got, err := os.ReadFile(filepath.Join(ctxDir, "sfp"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the image context does not hold a copy of the running sfp: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(ctxDir, "sfp")); fi.Mode().Perm() != 0o755 {
		t.Errorf("copied sfp mode %v", fi.Mode().Perm())
	}

	p := loadProject(t, tn.Dir, tn)
	s := p.Services[migrationsService]
	if s.Image != "sfp:v1.4.0" || s.Build == nil || s.Build.Context != ctxDir || s.Build.Dockerfile != "Dockerfile" {
		t.Errorf("supabase-migrations: image %q build %+v", s.Image, s.Build)
	}
	if v := s.Build.Args["VERSION"]; v == nil || *v != "v1.4.0" {
		t.Errorf("build arg VERSION = %v, want the running sfp's version", v)
	}

	// A newer sfp replaces the copy and the stamp.
	exe2 := fakeELF(t, false, "build 2")
	opts.Executable = func() (string, error) { return exe2, nil }
	opts.Version = "v1.5.0"
	if err := New(opts).Init(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	want, _ = os.ReadFile(exe2)
	if got, _ := os.ReadFile(filepath.Join(ctxDir, "sfp")); !bytes.Equal(got, want) {
		t.Error("a newer sfp did not replace the copy")
	}
	if env := envOf(t, tn); env["SFP_VERSION"] != "v1.5.0" || env["SFP_IMAGE"] != "sfp:v1.5.0" {
		t.Errorf("after a newer sfp: %q %q", env["SFP_VERSION"], env["SFP_IMAGE"])
	}
}

func TestBuildContextFallbacks(t *testing.T) {
	root := repoRoot(t)
	outside := t.TempDir()
	tn, err := tenant.Create(t.TempDir(), tenant.CreateOptions{Name: "acme", Runtime: tenant.RuntimeDocker})
	if err != nil {
		t.Fatal(err)
	}
	dynamic := fakeELF(t, true, "")
	cases := []struct {
		name    string
		opts    Options
		want    string
		context bool // ./sfp-image written
	}{
		{"explicit", Options{BuildContext: "/srv/sfp", Executable: func() (string, error) { return fakeELF(t, false, ""), nil }}, "/srv/sfp", false},
		{"cgo build inside a checkout", Options{Executable: func() (string, error) { return dynamic, nil },
			Getwd: func() (string, error) { return filepath.Join(root, "pkg", "runtime"), nil }}, root, false},
		{"release elsewhere, not runnable", Options{Version: "v1.2.3", Executable: func() (string, error) { return dynamic, nil },
			Getwd: func() (string, error) { return outside, nil }}, RepositoryURL + "#v1.2.3", false},
		{"development build elsewhere", Options{Version: "v0.0.0-20261130-abcdef", Executable: func() (string, error) { return filepath.Join(outside, "sfp"), nil },
			Getwd: func() (string, error) { return outside, nil }}, RepositoryURL, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			os.RemoveAll(filepath.Join(tn.Dir, ImageContextDir))
			got, err := New(tc.opts).buildContext(tn)
			if err != nil || got != tc.want {
				t.Errorf("build context = %q, %v; want %q", got, err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(tn.Dir, ImageContextDir)); (err == nil) != tc.context {
				t.Errorf("image context written: %v, want %v", err == nil, tc.context)
			}
		})
	}
}

// TestImageDockerfile: the embedded Dockerfile is the repository's final
// stage — distroless/static, non-root, sfp as entrypoint — over the copied
// binary, and carries the version it is given.
func TestImageDockerfile(t *testing.T) {
	cmds := byCommand(parseDockerfile(t, string(imageDockerfile)))
	if len(cmds["FROM"]) > 1 {
		t.Errorf("more than one stage: FROM %q", cmds["FROM"])
	}
	for _, run := range cmds["RUN"] {
		t.Errorf("RUN %s: the base image has no shell", run)
	}
	from, user, entrypoint, copied := last(cmds["FROM"]), last(cmds["USER"]), last(cmds["ENTRYPOINT"]), last(cmds["COPY"])
	arg, label := last(cmds["ARG"]), last(cmds["LABEL"])
	repo, _ := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	repoFinal := last(byCommand(parseDockerfile(t, string(repo)))["FROM"])
	if from != repoFinal {
		t.Errorf("FROM %q, the repository's final stage is FROM %q", from, repoFinal)
	}
	if user != "nonroot:nonroot" || entrypoint != `["/usr/local/bin/sfp"]` || copied != "sfp /usr/local/bin/sfp" {
		t.Errorf("USER %q ENTRYPOINT %q COPY %q", user, entrypoint, copied)
	}
	if !strings.HasPrefix(arg, "VERSION") || !strings.Contains(label, "${VERSION}") {
		t.Errorf("ARG %q LABEL %q: the version is not stamped", arg, label)
	}
}
