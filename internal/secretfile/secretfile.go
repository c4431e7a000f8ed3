// Package secretfile reads and creates the small secret files Assent keeps
// in its data directory (the master key, the admin token): random bytes,
// written once with mode 0600 and never logged.
package secretfile

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LoadOrCreate returns the secret stored base64url-encoded in path, creating
// the file with n fresh random bytes (mode 0600) when it does not exist.
// created reports whether the file was made by this call. A file that is
// readable by group or others is refused, as is one of the wrong length.
func LoadOrCreate(path string, n int) (secret []byte, created bool, err error) {
	secret, err = Load(path, n)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return secret, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	secret = make([]byte, n)
	rand.Read(secret)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process won the race; use what it wrote.
		s, err := Load(path, n)
		return s, false, err
	}
	if err != nil {
		return nil, false, err
	}
	_, werr := f.WriteString(Encode(secret) + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("write %s: %w", path, err)
	}
	return secret, true, nil
}

// Load reads a secret written by LoadOrCreate and checks its length and the
// file's permissions.
func Load(path string, n int) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: permissions %v are too open; run: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Decode(string(b), n)
}

// Decode parses a base64url (or standard base64) secret of exactly n bytes,
// as found in a secret file or a config value.
func Decode(s string, n int) ([]byte, error) {
	s = strings.TrimSpace(s)
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		b, err = base64.StdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, errors.New("secret is not valid base64")
	}
	if len(b) != n {
		return nil, fmt.Errorf("secret is %d bytes, want %d", len(b), n)
	}
	return b, nil
}

// Encode is the text form of a secret, as written to a secret file.
func Encode(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
