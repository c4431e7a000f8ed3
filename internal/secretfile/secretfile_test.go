package secretfile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "master.key")
	a, created, err := LoadOrCreate(path, 32)
	if err != nil || !created || len(a) != 32 {
		t.Fatalf("first LoadOrCreate = %d bytes, created %v, %v", len(a), created, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode = %v, want 0600", got)
	}
	b, created, err := LoadOrCreate(path, 32)
	if err != nil || created || !bytes.Equal(a, b) {
		t.Fatalf("second LoadOrCreate: created %v, same %v, %v", created, bytes.Equal(a, b), err)
	}
	if _, err := Load(path, 16); err == nil {
		t.Error("Load with the wrong length succeeded")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, 32); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("Load of a world-readable file: %v, want a chmod hint", err)
	}
}

func TestDecode(t *testing.T) {
	for _, s := range []string{"", "!!!", "AAAA"} {
		if _, err := Decode(s, 32); err == nil {
			t.Errorf("Decode(%q) succeeded", s)
		}
	}
	if b, err := Decode(strings.Repeat("A", 43), 32); err != nil || len(b) != 32 {
		t.Errorf("Decode(43 x A) = %d bytes, %v", len(b), err)
	}
}
