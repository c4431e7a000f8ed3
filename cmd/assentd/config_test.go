package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
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

// TestClientLogoFile checks that a client's logo_file is read into its
// logo, and that a missing or unusable file is reported on its field.
func TestClientLogoFile(t *testing.T) {
	dir := t.TempDir()
	var logo bytes.Buffer
	if err := png.Encode(&logo, image.NewGray(image.Rect(0, 0, 16, 16))); err != nil {
		t.Fatal(err)
	}
	logoFile, text := filepath.Join(dir, "shop.png"), filepath.Join(dir, "shop.txt")
	os.WriteFile(logoFile, logo.Bytes(), 0o600)
	os.WriteFile(text, []byte("not an image"), 0o600)
	load := func(logoPath string) (*config, error) {
		file := filepath.Join(dir, "assent.yaml")
		yaml := "clients:\n  - id: shop\n    secret: " + strings.Repeat("s", 32) + "\n    redirect_uris: [https://shop.example/cb]\n    logo_file: " + logoPath + "\n"
		if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return loadConfig([]string{"-data", t.TempDir(), "-config", file}, func(string) string { return "" })
	}
	cfg, err := load(logoFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cfg.Clients[0].Logo, logo.Bytes()) {
		t.Error("logo_file not read into the client's logo")
	}
	for path, want := range map[string]string{filepath.Join(dir, "missing.png"): "clients[0].logo_file", text: "clients[0].logo"} {
		if _, err := load(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("logo_file %s: %v, want an error on %s", filepath.Base(path), err, want)
		}
	}
}
