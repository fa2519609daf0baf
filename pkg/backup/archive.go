package backup

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
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
