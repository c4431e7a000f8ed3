package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// TestClientCommands registers clients with the CLI against a running
// server: a key client from a JWK set file (no secret printed), an RS256
// first-party client with a logout URI, and rotates a secret.
func TestClientCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, filepath.Join(dir, "data"))
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	jwks := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwks, set, 0o600); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := s.cli("", "client", "create", "--id", "svc", "--redirect-uri", "https://svc.example/cb", "--jwks", jwks)
	if code != 0 || strings.Contains(out, "secret:") || !strings.Contains(out, "auth method:    private_key_jwt") {
		t.Errorf("create key client: %d %q %q", code, out, errOut)
	}
	out, errOut, code = s.cli("", "client", "create", "--id", "old", "--redirect-uri", "https://old.example/cb",
		"--post-logout-redirect-uri", "https://old.example/bye", "--id-token-alg", "RS256", "--first-party",
		"--scope", "openid", "--scope", "email", "--max-auth-age", "5m", "--name", "Old Shop")
	if code != 0 || !strings.Contains(out, "secret:") {
		t.Fatalf("create: %d %q %q", code, out, errOut)
	}
	first := secretOf(out)
	out, _, _ = s.cli("", "client", "show", "old")
	for _, want := range []string{"logout uri:     https://old.example/bye", "id token alg:   RS256", "scopes:         openid email", "first party:    yes", "max auth age:   5m0s", "name:           Old Shop"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	out, errOut, code = s.cli("", "client", "rotate-secret", "old")
	if code != 0 || secretOf(out) == "" || secretOf(out) == first {
		t.Errorf("rotate-secret: %d %q %q", code, out, errOut)
	}
	if _, errOut, code := s.cli("", "client", "rotate-secret", "svc"); code == 0 || !strings.Contains(errOut, "no secret") {
		t.Errorf("rotate-secret of a key client: %d %q", code, errOut)
	}
	if _, errOut, code := s.cli("", "client", "create", "--id", "bad", "--redirect-uri", "https://bad.example/cb", "--id-token-alg", "HS256"); code == 0 || !strings.Contains(errOut, "id_token_signed_response_alg") {
		t.Errorf("create with HS256: %d %q", code, errOut)
	}

	out, errOut, code = s.cli("", "client", "create", "--id", "bank", "--ciba-mode", "poll", "--ciba-user-code")
	if code != 0 || !strings.Contains(out, "ciba user code: required") {
		t.Errorf("create with --ciba-user-code: %d %q %q", code, out, errOut)
	}
	if _, errOut, code := s.cli("", "client", "create", "--id", "nociba", "--redirect-uri", "https://n.example/cb", "--ciba-user-code"); code == 0 || !strings.Contains(errOut, "ciba_user_code: only with a ciba_mode") {
		t.Errorf("--ciba-user-code without --ciba-mode: %d %q", code, errOut)
	}

	// A logo from a file, served by the server; a file that is no PNG or
	// JPEG is refused with the field named.
	var logo bytes.Buffer
	if err := png.Encode(&logo, image.NewGray(image.Rect(0, 0, 32, 32))); err != nil {
		t.Fatal(err)
	}
	logoFile, notImage := filepath.Join(dir, "logo.png"), filepath.Join(dir, "logo.svg")
	os.WriteFile(logoFile, logo.Bytes(), 0o600)
	os.WriteFile(notImage, []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), 0o600)
	out, errOut, code = s.cli("", "client", "create", "--id", "shop", "--redirect-uri", "https://shop.example/cb", "--logo", logoFile)
	if code != 0 || !strings.Contains(out, "logo:           /clients/shop/logo") {
		t.Fatalf("create with a logo: %d %q %q", code, out, errOut)
	}
	resp, err := http.Get(s.url + "/clients/shop/logo")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(got, logo.Bytes()) {
		t.Errorf("GET the logo: %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(got))
	}
	if _, errOut, code := s.cli("", "client", "create", "--id", "svg", "--redirect-uri", "https://svg.example/cb", "--logo", notImage); code == 0 || !strings.Contains(errOut, "client.logo: not a PNG or JPEG image") {
		t.Errorf("create with an SVG logo: %d %q", code, errOut)
	}
}

func secretOf(out string) string {
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(line, "secret:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
