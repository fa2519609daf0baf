package docker

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"

	"github.com/sfp-dev/sfp/pkg/tenant"
)

// The sfp image (the supabase-migrations container) is sfp:<version of the
// running sfp>, built by compose with VERSION=<that version> from
// SFP_BUILD_CONTEXT, which follows the running sfp on every init, start
// and update, so no tenant depends on a checkout's path:
//
//  1. SFP_BUILD_CONTEXT in sfp's own environment (Options.BuildContext): a
//     checkout or a git URL, built from source with the repository's
//     Dockerfile;
//  2. else ./sfp-image in the tenant directory, when the running sfp is a
//     static Linux executable (release builds and `task build` are): sfp
//     copies itself there next to image.Dockerfile, so the image is built
//     without a compiler or network, and holds exactly this sfp;
//  3. else the checkout holding the working directory or the executable
//     (development: `go run`, a cgo build);
//  4. else RepositoryURL, at the release tag when the version is one.

// ImageContextDir is the build context sfp writes into the tenant directory.
const ImageContextDir = "sfp-image"

// imageContextRef is how .env names it (relative to the project directory).
const imageContextRef = "./" + ImageContextDir

//go:embed image.Dockerfile
var imageDockerfile []byte

// buildContext chooses SFP_BUILD_CONTEXT (see above), writing the tenant's
// image context when it is the one.
func (r *Runtime) buildContext(t *tenant.Tenant) (string, error) {
	if r.opts.BuildContext != "" {
		return r.opts.BuildContext, nil
	}
	exe, err := r.opts.Executable()
	if err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			if err = usableInImage(exe); err == nil {
				if err := writeImageContext(t, exe); err != nil {
					return "", err
				}
				return imageContextRef, nil
			}
		}
	}
	r.opts.Logger.Debug("the running sfp cannot go into the sfp image; building it from source", "reason", err)
	var starts []string
	if wd, err := r.opts.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := r.opts.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		if root, ok := FindCheckout(dir); ok {
			return root, nil
		}
	}
	if releaseTag.MatchString(r.opts.Version) {
		return RepositoryURL + "#" + r.opts.Version, nil
	}
	return RepositoryURL, nil
}

// releaseTag is a version that names a tag of the repository.
var releaseTag = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`)

// elfMachines maps GOARCH to the ELF machine of its executables.
var elfMachines = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386, "arm": elf.EM_ARM,
	"ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390, "riscv64": elf.EM_RISCV, "loong64": elf.EM_LOONGARCH,
}

// usableInImage tells whether an executable runs in the distroless/static
// image: a Linux ELF executable of this architecture with no dynamic loader
// (built with CGO_ENABLED=0).
func usableInImage(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not a Linux executable: %w", path, err)
	}
	defer f.Close()
	if f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		return fmt.Errorf("%s is built for %s, not Linux", path, f.OSABI)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("%s is not an executable (%s)", path, f.Type)
	}
	if want, ok := elfMachines[runtime.GOARCH]; !ok || f.Machine != want {
		return fmt.Errorf("%s is built for %s, not %s", path, f.Machine, runtime.GOARCH)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (built with cgo); the image has no C library", path)
		}
	}
	return nil
}

// writeImageContext puts image.Dockerfile and a copy of exe into the
// tenant's ./sfp-image, rewriting only what differs.
func writeImageContext(t *tenant.Tenant, exe string) error {
	dir := filepath.Join(t.Dir, ImageContextDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write the sfp image context: %w", err)
	}
	df := filepath.Join(dir, "Dockerfile")
	if cur, err := os.ReadFile(df); err != nil || !bytes.Equal(cur, imageDockerfile) {
		if err := writeFileAtomic(df, imageDockerfile, 0o644); err != nil {
			return err
		}
	}
	dst := filepath.Join(dir, "sfp")
	same, err := sameFile(exe, dst)
	if err != nil || same {
		return err
	}
	return copyFileAtomic(exe, dst, 0o755)
}

// sameFile compares two files by size and SHA-256; a missing dst differs.
func sameFile(src, dst string) (bool, error) {
	a, err := os.Stat(src)
	if err != nil {
		return false, fmt.Errorf("write the sfp image context: %w", err)
	}
	b, err := os.Stat(dst)
	if errors.Is(err, os.ErrNotExist) || (err == nil && a.Size() != b.Size()) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("write the sfp image context: %w", err)
	}
	ha, err := fileHash(src)
	if err != nil {
		return false, err
	}
	hb, err := fileHash(dst)
	if err != nil {
		return false, nil // unreadable: rewrite it
	}
	return ha == hb, nil
}

func fileHash(path string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, fmt.Errorf("write the sfp image context: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, fmt.Errorf("write the sfp image context: read %s: %w", path, err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// copyFileAtomic copies src to dst through a temporary file and a rename.
func copyFileAtomic(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("write the sfp image context: %w", err)
	}
	defer in.Close()
	return writeAtomic(dst, perm, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}
