package authserver

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/store/bolt"
)

// BenchmarkOIDCClientCredentialsGrant measures the client credentials
// grant through the token endpoint's handler on a real bbolt file with
// fsync: client authentication with a secret, the scope check, the audit
// event (a batched commit shared by concurrent grants) and a signed ES256
// access token. 32 clients' requests run at once, as in the
// client-credentials load scenario.
func BenchmarkOIDCClientCredentialsGrant(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "assent.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	keys, _ := profiles.NewKeyring(bytes.Repeat([]byte{3}, 32))
	ps := profiles.New(profiles.Config{Store: db, Keys: keys, Hasher: profiles.NewHasher(testParams)})
	issuer, _ := url.Parse("http://localhost:8080")
	srv, err := New(Config{Issuer: issuer, Store: db, Profiles: ps, Keys: keys, Logger: slog.New(slog.DiscardHandler),
		AdminToken: []byte(testAdminToken),
		OIDCClients: []oidcprovider.ClientConfig{{ID: "svc", Secret: rpSecret, GrantTypes: []string{"client_credentials"},
			Scopes: []string{"orders:read"}}}})
	if err != nil {
		b.Fatal(err)
	}
	body := url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"}}.Encode()
	start := cpuTime()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("svc", rpSecret)
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			var out struct {
				AccessToken string `json:"access_token"`
			}
			if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &out) != nil || out.AccessToken == "" {
				b.Errorf("client credentials: %d %s", w.Code, w.Body.String())
				return
			}
		}
	})
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}
