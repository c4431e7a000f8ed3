package authserver

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/profiles"
)

const thirdCallback = "https://third.example/cb"

// formAction returns the form-action directive of a response's CSP.
func formAction(t *testing.T, r response) string {
	t.Helper()
	var found []string
	for d := range strings.SplitSeq(r.header.Get("Content-Security-Policy"), ";") {
		if d = strings.TrimSpace(d); strings.HasPrefix(d, "form-action ") {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		t.Fatalf("CSP %q has %d form-action directives, want 1", r.header.Get("Content-Security-Policy"), len(found))
	}
	return found[0]
}

func wantFormAction(t *testing.T, what string, r response, want string) {
	t.Helper()
	if got := formAction(t, r); got != want {
		t.Errorf("%s (%d): %q, want %q", what, r.status, got, want)
	}
}

// TestFormActionPerPage: every page whose form can finish an authorization
// request lets the form's redirects reach that request's redirect URI, and
// only its origin; every other page, and every page whose return_to names
// no live request, keeps form-action 'self'.
func TestFormActionPerPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withClients(
		oidcprovider.ClientConfig{ID: "web", Secret: rpSecret, RedirectURIs: []string{rpCallback}, FirstParty: true},
		oidcprovider.ClientConfig{ID: "bank", Secret: rpSecret, RedirectURIs: []string{rpCallback}, MinACR: "mfa", FirstParty: true},
		oidcprovider.ClientConfig{ID: "third", Secret: rpSecret, RedirectURIs: []string{thirdCallback}},
	))
	const self, rp, third = "form-action 'self'", "form-action 'self' https://rp.example", "form-action 'self' https://third.example"
	b := e.browser()

	t.Run("OutsideAFlow", func(t *testing.T) {
		for _, path := range []string{"/signin", "/signup", "/reset", "/signin?return_to=%2Faccount",
			"/signin?return_to=" + url.QueryEscape("/oidc/resume?id=unknown"),
			"/signin?return_to=" + url.QueryEscape("https://evil.example/oidc/resume?id=x"),
			"/signin?return_to=" + url.QueryEscape("//evil.example/oidc/resume?id=x"),
			"/signup?return_to=" + url.QueryEscape("/oidc/resume?id=unknown"),
		} {
			wantFormAction(t, path, b.get(path), self)
		}
	})

	b.signUp("ada@example.com", password)
	key := b.enrollTOTP()
	b.enrollApp(t.Context())
	wantFormAction(t, "security page", b.get("/security"), self)
	wantFormAction(t, "account page", b.get("/account"), self)
	e.clock.Advance(3 * time.Hour)
	b.signOut()
	verifier := oauth2.GenerateVerifier()
	pkce := oauth2.S256ChallengeOption(verifier)

	t.Run("SignInAndSecondFactor", func(t *testing.T) {
		bank := e.rp("bank")
		u, r := b.authorize(bank.cfg.AuthCodeURL("s1", pkce))
		if u.Path != "/signin" {
			t.Fatalf("ended at %v, want the sign-in page", u)
		}
		wantFormAction(t, "sign-in page", b.get(u.RequestURI()), rp)
		wantFormAction(t, "sign-up page", b.get("/signup?return_to="+url.QueryEscape(u.Query().Get("return_to"))), rp)

		// A wrong password shows the page again, still able to finish.
		form := url.Values{"email": {"ada@example.com"}, "password": {"wrong password"}, "return_to": {u.Query().Get("return_to")}, "acr": {u.Query().Get("acr")}}
		r = b.submit(u.RequestURI(), "/signin", form)
		wantFormAction(t, "sign-in page after a wrong password", r, rp)

		form.Set("password", password)
		r = b.submit(u.RequestURI(), "/signin", form)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/signin/factor" {
			t.Fatalf("password step: %d %q", r.status, r.header.Get("Location"))
		}
		wantFormAction(t, "second-factor page", b.get("/signin/factor"), rp)
		r = b.post("/signin/factor/push", url.Values{"csrf": {b.csrf()}})
		if r.status != http.StatusOK || !pushWaitRE.MatchString(r.body) {
			t.Fatalf("app wait page: %d %s", r.status, truncate(r.body, 300))
		}
		wantFormAction(t, "app wait page", r, rp)
		r = b.post("/signin/factor/push/finish", url.Values{"csrf": {b.csrf()}})
		if r.status == http.StatusAccepted {
			wantFormAction(t, "app wait page, still waiting", r, rp)
		}
		r = b.post("/signin/factor/totp", url.Values{"csrf": {b.csrf()}, "code": {"000000"}})
		wantFormAction(t, "second-factor page after a wrong code", r, rp)
		code, _ := totp.GenerateCode(key, e.clock.Now())
		r = b.post("/signin/factor/totp", url.Values{"csrf": {b.csrf()}, "code": {code}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("TOTP step: %d %s", r.status, truncate(r.body, 300))
		}
		u, _ = b.authorize(e.ts.URL + r.header.Get("Location"))
		bank.exchange(callbackOf(t, u, "s1").Get("code"), verifier)

		// The pending sign-in is spent: no page of it is left to finish.
		wantFormAction(t, "second-factor page without a sign-in", b.get("/signin/factor"), self)
	})

	t.Run("Consent", func(t *testing.T) {
		p := e.rp("third")
		p.cfg.RedirectURL = thirdCallback
		u, r := b.authorize(p.cfg.AuthCodeURL("s2", pkce))
		if r.status != http.StatusOK || u.Path != "/oidc/resume" {
			t.Fatalf("ended at %v (%d), want the consent page", u, r.status)
		}
		wantFormAction(t, "consent page", r, third)
		r = b.submit(u.RequestURI(), "/oidc/consent", url.Values{"id": {u.Query().Get("id")}, "decision": {"allow"}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("consent: %d %s", r.status, truncate(r.body, 300))
		}
		base, _ := url.Parse(e.ts.URL + "/oidc/consent")
		loc, _ := base.Parse(r.header.Get("Location"))
		u, _ = b.authorize(loc.String())
		if !strings.HasPrefix(u.String(), thirdCallback) || u.Query().Get("code") == "" || u.Query().Get("state") != "s2" {
			t.Fatalf("ended at %v, want the client's callback with a code", u)
		}
		p.exchange(u.Query().Get("code"), verifier)

		// A redirect URI the client did not register never gets a page.
		bad := strings.Replace(p.cfg.AuthCodeURL("s3", pkce), url.QueryEscape(thirdCallback), url.QueryEscape("https://evil.example/cb"), 1)
		_, r = b.authorize(bad)
		if r.status/100 == 3 || strings.Contains(r.header.Get("Content-Security-Policy"), "evil.example") {
			t.Errorf("unregistered redirect URI: %d, CSP %q", r.status, r.header.Get("Content-Security-Policy"))
		}
	})

	t.Run("ExpiredRequest", func(t *testing.T) {
		b.signOut()
		u, _ := b.authorize(e.rp("web").cfg.AuthCodeURL("s4", pkce))
		if u.Path != "/signin" {
			t.Fatalf("ended at %v, want the sign-in page", u)
		}
		wantFormAction(t, "sign-in page", b.get(u.RequestURI()), rp)
		e.clock.Advance(11 * time.Minute)
		wantFormAction(t, "sign-in page of an expired request", b.get(u.RequestURI()), self)
	})
}

// TestFormActionSignInLink: the mailed sign-in link's page carries the
// authorization request it was asked for in, and its form finishes it.
func TestFormActionSignInLink(t *testing.T) {
	t.Parallel()
	m := newMailEnv(t, withClients(oidcprovider.ClientConfig{ID: "web", Secret: rpSecret, RedirectURIs: []string{rpCallback}, FirstParty: true}))
	t.Cleanup(m.srv.acct.wg.Wait) // before the server stops
	if _, err := m.profiles.Create(t.Context(), profiles.NewUser{Email: "ada@example.com", Password: password, EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	b := m.browser()
	p := m.rp("web")
	verifier := oauth2.GenerateVerifier()
	u, _ := b.authorize(p.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	if u.Path != "/signin" {
		t.Fatalf("ended at %v, want the sign-in page", u)
	}
	r := b.submit(u.RequestURI(), "/signin/link", url.Values{"email": {"ada@example.com"}, "return_to": {u.Query().Get("return_to")}})
	wantFormAction(t, "link sent page", r, "form-action 'self' https://rp.example")
	m.srv.acct.wg.Wait()
	link := m.linkPath(m.waitMail(1), "/signin/link/open?")
	page := b.get(link)
	wantFormAction(t, "link page", page, "form-action 'self' https://rp.example")
	r = b.submit(link, "/signin/link/open", url.Values{"t": {formToken(t, page.body)}, "return_to": {u.Query().Get("return_to")}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("open link: %d %s", r.status, truncate(r.body, 300))
	}
	u, _ = b.authorize(m.ts.URL + r.header.Get("Location"))
	p.exchange(callbackOf(t, u, "s").Get("code"), verifier)
}

// TestFormActionUpstream: the sign-in page's "Continue with" form is
// redirected to the upstream provider, so the sign-in page, and only it,
// allows the provider's origin besides the client's.
func TestFormActionUpstream(t *testing.T) {
	t.Parallel()
	p := newUpstreamPair(t, nil, nil)
	up := "form-action 'self' " + p.up.ts.URL
	wantFormAction(t, "sign-in page", p.downB.get("/signin"), up)
	wantFormAction(t, "sign-up page", p.downB.get("/signup"), "form-action 'self'")
	r := p.downB.submit("/signin", "/signin/upstream/acme", url.Values{})
	if loc := r.header.Get("Location"); r.status != http.StatusSeeOther || !strings.HasPrefix(loc, p.up.ts.URL+"/authorize?") {
		t.Fatalf("start: %d %q", r.status, loc)
	}
	// Once discovered, the authorization endpoint's origin counts; here it
	// is the issuer's.
	wantFormAction(t, "sign-in page after discovery", p.downB.get("/signin"), up)
	wantFormAction(t, "reset page", p.downB.get("/reset"), "form-action 'self'")
}

func TestWidenFormAction(t *testing.T) {
	t.Parallel()
	const base = "default-src 'none'; form-action 'self'; frame-ancestors 'none'"
	for _, c := range []struct {
		csp  string
		srcs []string
		want string
	}{
		{base, nil, base},
		{base, []string{""}, base},
		{base, []string{"https://a.example"}, "default-src 'none'; form-action 'self' https://a.example; frame-ancestors 'none'"},
		{"default-src 'none'; form-action 'self' https://a.example; frame-ancestors 'none'", []string{"https://a.example", "https://b.example"},
			"default-src 'none'; form-action 'self' https://a.example https://b.example; frame-ancestors 'none'"},
		{"form-action 'none'", []string{"https://a.example"}, "form-action 'none'"},
		{"", []string{"https://a.example"}, ""},
	} {
		h := http.Header{}
		if c.csp != "" {
			h.Set("Content-Security-Policy", c.csp)
		}
		widenFormAction(h, c.srcs...)
		if got := h.Get("Content-Security-Policy"); got != c.want {
			t.Errorf("widen %q by %q = %q, want %q", c.csp, c.srcs, got, c.want)
		}
	}
}
