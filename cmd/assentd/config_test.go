package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSignUpConfirmEmailConfig checks that the config file turns on the
// enumeration-safe sign-up, and that it is off by default.
func TestSignUpConfirmEmailConfig(t *testing.T) {
	noEnv := func(string) string { return "" }
	cfg, err := loadConfig([]string{"-data", t.TempDir()}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SignUpConfirmEmail {
		t.Error("signup_confirm_email on by default")
	}
	file := filepath.Join(t.TempDir(), "assent.yaml")
	if err := os.WriteFile(file, []byte("signup_confirm_email: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = loadConfig([]string{"-data", t.TempDir(), "-config", file}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.SignUpConfirmEmail {
		t.Error("signup_confirm_email: true not taken from the config file")
	}
}
