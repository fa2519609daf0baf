package backup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
)

// Encryption says how a backup is encrypted: to the passphrase in a file
// (age's scrypt recipient), to an age public key, or — only when asked for
// explicitly — not at all.
type Encryption struct {
	PassphraseFile string
	Recipient      string
	Unencrypted    bool
}

// ErrNoEncryption is returned when a backup would be written in the clear
// without --unencrypted.
var ErrNoEncryption = errors.New("no encryption configured for backups: set backup.passphrase_file or backup.recipient in tenant.yaml, pass --passphrase-file FILE or --recipient AGE-PUBLIC-KEY, or --unencrypted to write the secrets in the clear")

func (e Encryption) recipient() (age.Recipient, error) {
	switch {
	case e.PassphraseFile != "" && e.Recipient != "":
		return nil, errors.New("encrypt backup: a passphrase file or a recipient, not both")
	case e.PassphraseFile != "":
		pass, err := readPassphrase(e.PassphraseFile)
		if err != nil {
			return nil, err
		}
		r, err := age.NewScryptRecipient(pass)
		if err != nil {
			return nil, fmt.Errorf("encrypt backup: %w", err)
		}
		return r, nil
	case e.Recipient != "":
		r, err := age.ParseX25519Recipient(e.Recipient)
		if err != nil {
			return nil, fmt.Errorf("encrypt backup: recipient %q: %w", e.Recipient, err)
		}
		return r, nil
	case e.Unencrypted:
		return nil, nil
	default:
		return nil, ErrNoEncryption
	}
}

// Decryption is what opens an encrypted backup: the passphrase file or an
// age identity file (as written by age-keygen).
type Decryption struct {
	PassphraseFile string
	IdentityFile   string
}

func (d Decryption) identities() ([]age.Identity, error) {
	switch {
	case d.PassphraseFile != "":
		pass, err := readPassphrase(d.PassphraseFile)
		if err != nil {
			return nil, err
		}
		id, err := age.NewScryptIdentity(pass)
		if err != nil {
			return nil, fmt.Errorf("decrypt backup: %w", err)
		}
		return []age.Identity{id}, nil
	case d.IdentityFile != "":
		f, err := os.Open(d.IdentityFile)
		if err != nil {
			return nil, fmt.Errorf("decrypt backup: read identity: %w", err)
		}
		defer f.Close()
		ids, err := age.ParseIdentities(f)
		if err != nil {
			return nil, fmt.Errorf("decrypt backup: identity file %s: %w", d.IdentityFile, err)
		}
		return ids, nil
	}
	return nil, errors.New("the backup is encrypted: pass --passphrase-file FILE or --identity FILE")
}

// readPassphrase reads the first line of a passphrase file.
func readPassphrase(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read passphrase file: %w", err)
	}
	pass, _, _ := strings.Cut(string(raw), "\n")
	pass = strings.TrimRight(pass, "\r")
	if pass == "" {
		return "", fmt.Errorf("read passphrase file: %s is empty", path)
	}
	return pass, nil
}

const ageHeader = "age-encryption.org/v1\n"

// openArchive returns the plaintext of a backup file: age-encrypted files
// are decrypted (a wrong passphrase or key fails here), others are read as
// they are.
func openArchive(r io.Reader, dec Decryption) (io.Reader, bool, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(len(ageHeader))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, fmt.Errorf("read backup: %w", err)
	}
	if !bytes.Equal(head, []byte(ageHeader)) {
		return br, false, nil
	}
	ids, err := dec.identities()
	if err != nil {
		return nil, true, err
	}
	pr, err := age.Decrypt(br, ids...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, true, fmt.Errorf("decrypt backup: wrong passphrase or key (%w)", err)
		}
		return nil, true, fmt.Errorf("decrypt backup: %w", err)
	}
	return &damageReader{r: pr}, true, nil
}

// damageReader reports a chunk that fails age's authentication (a
// truncated, corrupted or tampered file) as ErrTruncated.
type damageReader struct{ r io.Reader }

func (d *damageReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w (%v)", ErrTruncated, err)
	}
	return n, err
}
