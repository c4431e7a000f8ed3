package authserver

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/store"
	"github.com/assent-auth/assent/store/bolt"
)

// BenchmarkOIDCRefreshGrant measures the refresh grant through the token
// endpoint's handler on a real bbolt file with fsync: client
// authentication, the family look-up, a durable rotation, and a signed
// ES256 access token and ID token. Many clients refresh at once, each its
// own family, as in production.
func BenchmarkOIDCRefreshGrant(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "assent.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	keys, _ := profiles.NewKeyring(bytes.Repeat([]byte{3}, 32))
	ps := profiles.New(profiles.Config{Store: db, Keys: keys, Hasher: profiles.NewHasher(testParams)})
	ident, err := ps.Create(b.Context(), profiles.NewUser{Email: "bench@example.com"})
	if err != nil {
		b.Fatal(err)
	}
	issuer, _ := url.Parse("http://localhost:8080")
	srv, err := New(Config{Issuer: issuer, Store: db, Profiles: ps, Keys: keys, Logger: slog.New(slog.DiscardHandler),
		AdminToken:  []byte(testAdminToken),
		OIDCClients: []oidcprovider.ClientConfig{{ID: "web", Secret: rpSecret, RedirectURIs: []string{rpCallback}}}})
	if err != nil {
		b.Fatal(err)
	}
	grant, _ := json.Marshal(map[string]any{"sub": ident.ID, "client_id": "web", "scopes": []string{"openid", "offline_access"},
		"auth_time": time.Now().UTC(), "amr": []string{"pwd"}, "acr": "1"})
	var n atomic.Int64
	start := cpuTime()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		fam := fmt.Sprintf("fam%d", n.Add(1))
		rt := fam + "-first-refresh-token"
		h := sha256.Sum256([]byte(rt))
		err := db.CreateOIDCRefreshToken(b.Context(), store.OIDCRefreshToken{TokenHash: h[:], Family: fam, UserID: ident.ID,
			ClientID: "web", Grant: grant, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			req := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("web", rpSecret)
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			var out struct {
				RefreshToken string `json:"refresh_token"`
			}
			if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &out) != nil || out.RefreshToken == "" {
				b.Errorf("refresh: %d %s", w.Code, w.Body.String())
				return
			}
			rt = out.RefreshToken
		}
	})
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}
