package authserver

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/assent-auth/assent/profiles"
)

// upstreamPair is a second, real Assent server acting as the upstream
// OpenID provider of the server under test, with a browser for each (two
// cookie jars stand for two sites).
type upstreamPair struct {
	up, down   *env
	upB, downB *browser
}

func newUpstreamPair(t *testing.T, claims map[string]string, schema *profiles.Schema) *upstreamPair {
	t.Helper()
	up := newEnv(t)
	down := &env{t: t, dir: t.TempDir(), clock: newClock(), master: newEnvMaster(), schema: schema}
	down.start(func(c *Config) {
		cb := strings.TrimSuffix(c.Issuer.String(), "/") + "/signin/upstream/acme/callback"
		r := up.admin("POST", "/admin/v1/clients", map[string]any{"id": "downstream", "redirect_uris": []string{cb}, "first_party": true})
		var cl struct {
			Secret string `json:"secret"`
		}
		if r.status != http.StatusCreated || json.Unmarshal([]byte(r.body), &cl) != nil || cl.Secret == "" {
			t.Fatalf("register downstream at upstream: %d %s", r.status, r.body)
		}
		c.Upstreams = []UpstreamConfig{{ID: "acme", Name: "Acme ID", Issuer: up.ts.URL, ClientID: "downstream", ClientSecret: cl.Secret, Claims: claims}}
	})
	return &upstreamPair{up: up, down: down, upB: up.browser(), downB: down.browser()}
}

// continueWith presses "Continue with Acme ID" on the downstream sign-in
// page, passes the upstream (already signed in there) and returns the
// downstream callback's answer.
func (p *upstreamPair) continueWith(t *testing.T) (callback *url.URL, r response) {
	t.Helper()
	r = p.downB.submit("/signin", "/signin/upstream/acme", url.Values{})
	loc := r.header.Get("Location")
	if r.status != http.StatusSeeOther || !strings.HasPrefix(loc, p.up.ts.URL+"/authorize?") {
		t.Fatalf("start: %d %q", r.status, loc)
	}
	q, _ := url.Parse(loc)
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if q.Query().Get(k) == "" {
			t.Errorf("authorization request lacks %s: %s", k, loc)
		}
	}
	if q.Query().Get("code_challenge_method") != "S256" {
		t.Errorf("code_challenge_method = %q", q.Query().Get("code_challenge_method"))
	}
	u, _ := p.upB.authorize(loc)
	if !strings.HasPrefix(u.String(), p.down.ts.URL+"/signin/upstream/acme/callback?") {
		t.Fatalf("upstream ended at %v, want the downstream callback", u)
	}
	return u, continued(t, p.downB.get(u.RequestURI()))
}

// refreshRE finds the target of a continue page's meta refresh.
var refreshRE = regexp.MustCompile(`<meta http-equiv="refresh" content="0;url=([^"]+)">`)

// continued turns the upstream callback's continue page (see
// continueLocally) into the redirect it stands for, checking that it
// is one: a 200 page whose meta refresh and link both lead there, without
// a Location header. Any other answer is returned as it is.
func continued(t *testing.T, r response) response {
	t.Helper()
	m := refreshRE.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		return r
	}
	to := html.UnescapeString(m[1])
	if r.header.Get("Location") != "" || !strings.Contains(r.body, `<a href="`+m[1]+`">`) {
		t.Fatalf("continue page: Location %q, body %s", r.header.Get("Location"), truncate(r.body, 1000))
	}
	h := r.header.Clone()
	h.Set("Location", to)
	return response{status: http.StatusSeeOther, header: h, body: r.body}
}

func TestUpstreamSignUpAndSignIn(t *testing.T) {
	t.Parallel()
	p := newUpstreamPair(t, nil, nil)
	if r := p.up.admin("POST", "/admin/v1/users", map[string]any{"email": "ada@example.com", "name": "Ada Lovelace", "password": password}); r.status != http.StatusCreated {
		t.Fatalf("upstream user: %d %s", r.status, r.body)
	}
	p.upB.signIn("ada@example.com", password)
	mustContain(t, "sign-in page", p.downB.get("/signin").body, "Continue with Acme ID")

	cb, r := p.continueWith(t)
	wantRedirect(t, "first upstream sign-in", r, "/account")
	ada, err := p.down.profiles.GetByEmail(t.Context(), "ada@example.com")
	if err != nil || !ada.EmailVerified || ada.HasPassword {
		t.Fatalf("signed-up user = %+v, %v; want verified, without a password", ada, err)
	}
	if ev := p.down.lastEvent("signin.succeeded"); ev.Subject != ada.ID || ev.Details["amr"] != "fed" || ev.Details["provider"] != "acme" {
		t.Errorf("sign-in event = %+v", ev)
	}
	mustContain(t, "profile page", p.downB.get("/account/profile").body, "Acme ID")

	// The callback is spent: replaying it fails and signs nobody in.
	other := p.down.browser()
	other.get("/signin")
	if r := other.get(cb.RequestURI()); r.status != http.StatusBadRequest {
		t.Errorf("callback in another browser: %d", r.status)
	}
	if r := p.downB.get(cb.RequestURI()); r.status != http.StatusBadRequest {
		t.Errorf("replayed callback: %d", r.status)
	}

	// Next time the link signs the same user in; no second account.
	p.downB.signOut()
	_, r = p.continueWith(t)
	// Assessed like any sign-in: a browser the account has used for less
	// than an hour is challenged, and an account without a second factor
	// is nudged to add a passkey.
	wantRedirect(t, "second upstream sign-in", r, "/account?nudge=add_passkey")
	if us, _ := p.down.profiles.List(t.Context(), "", 10); len(us) != 1 {
		t.Errorf("%d users after two upstream sign-ins, want 1", len(us))
	}

	// A state that does not match is refused.
	p.downB.signOut()
	r = p.downB.submit("/signin", "/signin/upstream/acme", url.Values{})
	u, _ := p.upB.authorize(r.header.Get("Location"))
	q := u.Query()
	q.Set("state", "forged")
	if r := p.downB.get("/signin/upstream/acme/callback?" + q.Encode()); r.status != http.StatusBadRequest {
		t.Errorf("forged state: %d", r.status)
	}
	// An error from the upstream is shown as a failure, nothing more.
	r = p.downB.submit("/signin", "/signin/upstream/acme", url.Values{})
	st, _ := url.Parse(r.header.Get("Location"))
	if r := p.downB.get("/signin/upstream/acme/callback?error=access_denied&state=" + st.Query().Get("state")); r.status != http.StatusBadRequest {
		t.Errorf("upstream error: %d", r.status)
	}
	if ev := p.down.lastEvent("signin.upstream_failed"); ev.Details["reason"] != "upstream_error" {
		t.Errorf("failure event = %+v", ev)
	}
	if r := p.downB.get("/account"); r.status != http.StatusSeeOther {
		t.Errorf("signed in after failures: %d", r.status)
	}
}

func TestUpstreamUnverifiedEmail(t *testing.T) {
	t.Parallel()
	schema := &profiles.Schema{Attributes: []profiles.Attribute{{Name: "work_email", Type: profiles.TypeEmail}}}
	if err := schema.Validate(); err != nil {
		t.Fatal(err)
	}
	p := newUpstreamPair(t, map[string]string{"work_email": "email"}, schema)
	p.upB.signUp("bob@example.com", password) // self sign-up: not verified upstream
	_, r := p.continueWith(t)
	wantRedirect(t, "upstream sign-up", r, "/account")
	bob, err := p.down.profiles.GetByEmail(t.Context(), "bob@example.com")
	if err != nil || bob.EmailVerified {
		t.Errorf("user = %+v, %v; want the e-mail unverified, as upstream said", bob, err)
	}
	// Mapped claims fill profile attributes, recorded as collected at sign-up.
	if bob.Attributes["work_email"] != "bob@example.com" || bob.Collected["work_email"].Channel != profiles.ChannelSignUp {
		t.Errorf("attributes = %v, collected %v", bob.Attributes, bob.Collected)
	}
}

// TestUpstreamLinking: an upstream account with the e-mail of an existing
// local account is linked only after the user signs in locally too.
func TestUpstreamLinking(t *testing.T) {
	t.Parallel()
	p := newUpstreamPair(t, nil, nil)
	for _, e := range []*env{p.up, p.down} {
		if r := e.admin("POST", "/admin/v1/users", map[string]any{"email": "carol@example.com", "password": password}); r.status != http.StatusCreated {
			t.Fatalf("user: %d %s", r.status, r.body)
		}
	}
	p.upB.signIn("carol@example.com", password)
	_, r := p.continueWith(t)
	if r.status != http.StatusOK {
		t.Fatalf("callback for an existing e-mail: %d", r.status)
	}
	mustContain(t, "sign-in page", r.body, "exists already")
	mustContain(t, "sign-in page", r.body, `value="/signin/upstream-link"`)
	carol, _ := p.down.profiles.GetByEmail(t.Context(), "carol@example.com")
	if links, _ := p.down.profiles.Links(t.Context(), carol.ID); len(links) != 0 {
		t.Fatalf("linked before the local sign-in: %+v", links)
	}
	// Without the local sign-in the link page sends to sign in.
	wantRedirect(t, "link page", p.downB.get("/signin/upstream-link"), "/signin?return_to=%2Fsignin%2Fupstream-link")
	// A wrong password links nothing.
	if r := p.downB.submit("/signin", "/signin", url.Values{"email": {"carol@example.com"}, "password": {"wrong password 123"}, "return_to": {"/signin/upstream-link"}}); r.status == http.StatusSeeOther {
		t.Fatalf("wrong password signed in")
	}
	r = p.downB.submit("/signin", "/signin", url.Values{"email": {"carol@example.com"}, "password": {password}, "return_to": {"/signin/upstream-link"}})
	wantRedirect(t, "local sign-in", r, "/signin/upstream-link")
	page := p.downB.get("/signin/upstream-link")
	mustContain(t, "link page", page.body, "Link your Acme ID account")
	r = p.downB.submit("/signin/upstream-link", "/signin/upstream-link", url.Values{})
	wantRedirect(t, "link", r, "/account/profile?done=linked")
	links, _ := p.down.profiles.Links(t.Context(), carol.ID)
	if len(links) != 1 || links[0].Provider != "acme" {
		t.Fatalf("links = %+v", links)
	}
	// The pending link is spent.
	if r := p.downB.submit("/account", "/signin/upstream-link", url.Values{}); r.status != http.StatusBadRequest {
		t.Errorf("second link: %d", r.status)
	}
	// From now on the upstream account signs carol in.
	p.downB.signOut()
	_, r = p.continueWith(t)
	wantRedirect(t, "linked sign-in", r, "/account?nudge=add_passkey")
	if ev := p.down.lastEvent("signin.succeeded"); ev.Subject != carol.ID {
		t.Errorf("signed in %s, want carol", ev.Subject)
	}
	// A lock holds for upstream sign-ins too.
	p.downB.signOut()
	p.down.admin("POST", "/admin/v1/users/carol@example.com/lock", nil)
	if _, r := p.continueWith(t); r.status != http.StatusForbidden {
		t.Errorf("locked user through upstream: %d", r.status)
	}
}

func TestUpstreamConfigValidate(t *testing.T) {
	t.Parallel()
	schema := &profiles.Schema{Attributes: []profiles.Attribute{{Name: "work_email", Type: profiles.TypeEmail}}}
	if err := schema.Validate(); err != nil {
		t.Fatal(err)
	}
	up := newEnv(t)
	var cfgErr error
	for _, tc := range []struct {
		u    UpstreamConfig
		want string
	}{
		{UpstreamConfig{ID: "Bad ID", Name: "x", Issuer: up.ts.URL, ClientID: "c", ClientSecret: "s"}, "upstreams[0].id"},
		{UpstreamConfig{ID: "a", Name: "x", Issuer: "http://id.example.com", ClientID: "c", ClientSecret: "s"}, "upstreams[0].issuer"},
		{UpstreamConfig{ID: "a", Name: "x", Issuer: up.ts.URL, ClientID: "c"}, "upstreams[0].client_secret"},
		{UpstreamConfig{ID: "a", Name: "x", Issuer: up.ts.URL, ClientID: "c", ClientSecret: "s", Claims: map[string]string{"shoe": "size"}}, "upstreams[0].claims"},
	} {
		errs := tc.u.Validate("upstreams[0]", schema)
		cfgErr = nil
		for _, err := range errs {
			if strings.HasPrefix(err.Error(), tc.want) {
				cfgErr = err
			}
		}
		if cfgErr == nil {
			t.Errorf("Validate(%+v) = %v, want an error on %s", tc.u, errs, tc.want)
		}
	}
	if errs := (UpstreamConfig{ID: "a", Name: "x", Issuer: up.ts.URL, ClientID: "c", ClientSecret: "s", Claims: map[string]string{"work_email": "email", "name": "name"}}).Validate("u", schema); len(errs) != 0 {
		t.Errorf("good config: %v", errs)
	}
}
