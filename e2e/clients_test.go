package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
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
}

func secretOf(out string) string {
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(line, "secret:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
