package authserver

import (
	"net/http"
	"net/url"
	"strings"
)

// Browsers apply a page's form-action directive to every redirect its form
// submission follows (CSP Level 3), not only to the form's own action. A
// form that finishes an authorization request (approving or cancelling a
// payment) posts to this server, which redirects through /oidc/resume and
// /authorize/callback to the client's redirect URI: with form-action 'self'
// alone, the browser refuses that last hop and the client never gets its
// code. Such a page widens form-action by the one origin the request ends
// at, and nothing else.

// allowFormRedirect adds the origin of authorization request id's redirect
// URI to the form-action directive of the page being rendered.
func (s *Server) allowFormRedirect(w http.ResponseWriter, r *http.Request, id string) {
	uri, err := s.oidc.RedirectURI(r.Context(), id)
	if err != nil {
		return
	}
	src := cspSource(uri)
	csp := w.Header().Get("Content-Security-Policy")
	if src == "" || !strings.Contains(csp, "form-action 'self'") {
		return
	}
	w.Header().Set("Content-Security-Policy", strings.Replace(csp, "form-action 'self'", "form-action 'self' "+src, 1))
}

// cspSource returns the CSP source expression that matches uri: its origin
// for http and https, its scheme for a private-use scheme (a native app);
// "" when uri cannot be expressed safely.
func cspSource(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" || !cspSafe(u.Scheme, false) {
		return ""
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" || !cspSafe(u.Host, true) {
			return ""
		}
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + ":"
}

// cspSafe reports whether s holds only characters a CSP host or scheme
// source allows (no spaces, quotes, semicolons or commas).
func cspSafe(s string, host bool) bool {
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '+':
		case host && (c == ':' || c == '[' || c == ']'):
		default:
			return false
		}
	}
	return s != ""
}
