package authserver

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Browsers apply a page's form-action directive to every redirect its form
// submission follows (CSP Level 3), not only to the form's own action. A
// form that finishes an authorization request (signing in, a second
// factor, the app's approval, consent, a payment) posts to this server,
// which redirects through /oidc/resume and /authorize/callback to the
// client's redirect URI: with form-action 'self' alone, the browser
// refuses that last hop and the client never gets its code.
//
// Such a page widens form-action by the one origin the request ends at,
// and nothing else. render does it for every page: the request is the
// page's flow (consent, payment, the second-factor and app-wait pages, the
// upstream link confirmation) or the resume page its return_to names
// (sign-in, sign-up, sign-in link, question card). The origin comes from
// the stored request, whose redirect URI the provider matched against the
// client's registration; nothing the browser sends is added. Any other
// page keeps form-action 'self'. The sign-in page's "Continue with" forms
// meet the same rule one hop earlier, at the upstream provider.

// allowFormRedirect adds the origin of authorization request id's redirect
// URI to the form-action directive of the page being rendered. An empty,
// unknown or expired id adds nothing; a second call for the same page
// changes nothing.
func (s *Server) allowFormRedirect(w http.ResponseWriter, r *http.Request, id string) {
	if id == "" {
		return
	}
	uri, err := s.oidc.RedirectURI(r.Context(), id)
	if err != nil {
		return
	}
	widenFormAction(w.Header(), cspSource(uri))
}

// allowUpstreams adds to the sign-in page's form-action the origins its
// "Continue with" forms are redirected to: the configured upstream
// providers' authorization endpoints (the issuer's origin until discovery
// has told otherwise). They come from the server's configuration only.
func (s *Server) allowUpstreams(w http.ResponseWriter) {
	if s.ups == nil || len(s.ups.order) == 0 {
		return
	}
	srcs := make([]string, 0, len(s.ups.order))
	s.ups.mu.Lock()
	for _, u := range s.ups.order {
		to := u.Issuer
		if p := s.ups.loaded[u.ID]; p != nil {
			to = p.Endpoint().AuthURL
		}
		srcs = append(srcs, cspSource(to))
	}
	s.ups.mu.Unlock()
	widenFormAction(w.Header(), srcs...)
}

// widenFormAction adds srcs ("" skipped, each once) to a form-action
// directive that starts with 'self'; a policy without one is left alone.
func widenFormAction(h http.Header, srcs ...string) {
	ds := strings.Split(h.Get("Content-Security-Policy"), ";")
	for i, d := range ds {
		f := strings.Fields(d)
		if len(f) < 2 || f[0] != "form-action" || f[1] != "'self'" {
			continue
		}
		n := len(f)
		for _, src := range srcs {
			if src != "" && !slices.Contains(f, src) {
				f = append(f, src)
			}
		}
		if len(f) == n {
			return
		}
		ds[i] = d[:len(d)-len(strings.TrimLeft(d, " "))] + strings.Join(f, " ")
		h.Set("Content-Security-Policy", strings.Join(ds, ";"))
		return
	}
}

// flowRequest returns the id of the authorization request a page's forms
// go on to finish when they succeed: returnTo is where they send the user,
// and only the provider's resume page names a request. "" for any other
// destination.
func flowRequest(returnTo string) string {
	u, err := url.Parse(safeReturnTo(returnTo))
	if err != nil || u.Path != "/oidc/resume" {
		return ""
	}
	return u.Query().Get("id")
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
