package backup

import (
	"archive/tar"
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/sfp-dev/sfp/pkg/tenant"
)

// addBytes writes a small entry.
func addBytes(tw *tar.Writer, name string, data []byte, mode int64, mtime time.Time) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return fmt.Errorf("write backup entry %s: %w", name, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("write backup entry %s: %w", name, err)
	}
	return nil
}

// addFile copies a file into an entry, counting its bytes.
func addFile(tw *tar.Writer, name, file string, count func(int64)) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("write backup entry %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("write backup entry %s: %w", name, err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: fi.Size(), ModTime: fi.ModTime(), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return fmt.Errorf("write backup entry %s: %w", name, err)
	}
	if _, err := io.Copy(tw, &countingReader{r: f, count: count}); err != nil {
		return fmt.Errorf("write backup entry %s: %w", name, err)
	}
	return nil
}

type countingReader struct {
	r     io.Reader
	count func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 && c.count != nil {
		c.count(int64(n))
	}
	return n, err
}

// readSmall reads an entry that must be small (manifest, configuration).
func readSmall(tr *tar.Reader, h *tar.Header) ([]byte, error) {
	if h.Size > maxSmallEntrySize {
		return nil, fmt.Errorf("backup entry %s is %d bytes, too large", h.Name, h.Size)
	}
	b, err := io.ReadAll(tr)
	if err != nil {
		return nil, fmt.Errorf("read backup entry %s: %w", h.Name, truncated(err))
	}
	return b, nil
}

// ErrTruncated is returned for a backup file that ends early.
var ErrTruncated = errors.New("the backup file is truncated or corrupted")

// truncated turns the errors of a short or damaged stream into ErrTruncated.
func truncated(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, tar.ErrHeader) {
		return fmt.Errorf("%w (%w)", ErrTruncated, err)
	}
	return err
}

// extractEntry writes one entry of the cluster's files (name relative to
// the data directory) into dir. Only regular files and directories inside
// dir are accepted: a name that leaves dir is an error, not a write
// elsewhere.
func extractEntry(r io.Reader, h *tar.Header, dir, name string, count func(int64)) error {
	name = path.Clean(name)
	if name == "." {
		return nil
	}
	if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
		return fmt.Errorf("extract: entry %q leaves the data directory: %w", h.Name, ErrTruncated)
	}
	target := filepath.Join(dir, filepath.FromSlash(name))
	switch h.Typeflag {
	case tar.TypeDir:
		if err := os.MkdirAll(target, 0o700); err != nil {
			return fmt.Errorf("extract: %w", err)
		}
	case tar.TypeReg:
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		return writeEntry(target, r, fs.FileMode(h.Mode).Perm()&0o700, count)
	case tar.TypeSymlink:
		// pg_basebackup writes pg_tblspc links; sfp clusters have no
		// tablespaces, so a link is refused rather than followed.
		return fmt.Errorf("extract: entry %q is a symbolic link to %q; tablespaces are not supported", h.Name, h.Linkname)
	default:
		return fmt.Errorf("extract: entry %q has unsupported type %q", h.Name, h.Typeflag)
	}
	return nil
}

func writeEntry(target string, r io.Reader, mode fs.FileMode, count func(int64)) error {
	if mode == 0 {
		mode = 0o600
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	_, err = io.Copy(f, &countingReader{r: r, count: count})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("extract %s: %w", filepath.Base(target), truncated(err))
	}
	return nil
}

// writeArchive writes the backup file: a tar stream — the manifest as
// known at the start, tenant.yaml, .env, what body writes, and the final
// manifest — age-encrypted unless recipient is nil, into a temporary file
// in the work directory (removed with it, even after a kill) that is synced
// and renamed into place.
func writeArchive(out, work string, recipient age.Recipient, m *Manifest, t *tenant.Tenant, body func(*tar.Writer) error) (int64, error) {
	cfg, err := os.ReadFile(t.ConfigFile())
	if err != nil {
		return 0, fmt.Errorf("back up tenant: %w", err)
	}
	env, err := os.ReadFile(t.EnvFile())
	if err != nil {
		return 0, fmt.Errorf("back up tenant: %w", err)
	}
	f, err := os.CreateTemp(work, "archive-*")
	if err != nil {
		return 0, fmt.Errorf("write backup: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	fail := func(err error) (int64, error) {
		f.Close()
		return 0, fmt.Errorf("write backup %s: %w", out, err)
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	var w io.Writer = bw
	var enc io.WriteCloser
	if recipient != nil {
		if enc, err = age.Encrypt(bw, recipient); err != nil {
			return fail(err)
		}
		w = enc
	}
	tw := tar.NewWriter(w)
	mraw, _ := json.MarshalIndent(m, "", "  ")
	if err := addBytes(tw, entryManifest, mraw, 0o600, m.StartedAt); err != nil {
		return fail(err)
	}
	if err := addBytes(tw, entryConfig, cfg, 0o644, m.StartedAt); err != nil {
		return fail(err)
	}
	if err := addBytes(tw, entrySecrets, env, 0o600, m.StartedAt); err != nil {
		return fail(err)
	}
	if err := body(tw); err != nil {
		f.Close()
		return 0, err
	}
	mraw, _ = json.MarshalIndent(m, "", "  ")
	if err := addBytes(tw, entryFinal, mraw, 0o600, m.FinishedAt); err != nil {
		return fail(err)
	}
	if err := tw.Close(); err != nil {
		return fail(err)
	}
	if enc != nil {
		if err := enc.Close(); err != nil {
			return fail(err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("write backup %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return 0, fmt.Errorf("write backup %s: %w", out, err)
	}
	if d, err := os.Open(filepath.Dir(out)); err == nil {
		d.Sync()
		d.Close()
	}
	return fi.Size(), nil
}

// addFiles writes files of the work directory into the archive.
func addFiles(tw *tar.Writer, entries []fileEntry, progress func(Progress)) error {
	var total, done int64
	for _, e := range entries {
		if fi, err := os.Stat(e.path); err == nil {
			total += fi.Size()
		}
	}
	count := func(n int64) {
		done += n
		if progress != nil {
			progress(Progress{Phase: "writing", Done: done, Total: total})
		}
	}
	for _, e := range entries {
		if err := addFile(tw, e.name, e.path, count); err != nil {
			return err
		}
	}
	return nil
}
