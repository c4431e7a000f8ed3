package authserver

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/assent-auth/assent/oidcprovider"
)

// authorizeBrowserCookie holds the random nonce that binds authorization
// requests to the browser that started them: only that browser sees and
// answers their consent and payment pages (oidcprovider/binding.go). One
// nonce serves every request the browser starts while it lasts.
const authorizeBrowserCookie = "assent_authz_browser"

// authorizeBrowserTTL outlives any authorization request.
const authorizeBrowserTTL = 12 * time.Hour

// bindAuthorizeBrowser wraps the authorization endpoint: it gives the
// browser its binding nonce (a new one when it has none) and hands the
// nonce's hash to the provider, which keeps it with the request.
func (s *Server) bindAuthorizeBrowser(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.cookie(r, authorizeBrowserCookie)
		if len(n) != 43 {
			b := make([]byte, 32)
			rand.Read(b)
			n = base64.RawURLEncoding.EncodeToString(b)
		}
		s.setCookie(w, authorizeBrowserCookie, n, authorizeBrowserTTL)
		h.ServeHTTP(w, r.WithContext(oidcprovider.WithBrowser(r.Context(), hashID(n))))
	})
}

// authorizeBrowser returns the hash of the browser's binding nonce, nil
// when it has none.
func (s *Server) authorizeBrowser(r *http.Request) []byte {
	n := s.cookie(r, authorizeBrowserCookie)
	if n == "" {
		return nil
	}
	return hashID(n)
}
