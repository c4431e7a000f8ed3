package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/assent-auth/assent/adminclient"
)

// Scenarios lists the scenarios New knows, in the order `assent bench
// --scenario all` runs them.
var Scenarios = []string{"signin", "oidc-code", "refresh", "client-credentials", "introspect", "risk", "ciba", "push"}

// Target is the server under load.
type Target struct {
	// Base is the server's base URL (its issuer).
	Base string
	// Admin creates and removes the run's users and clients.
	Admin *adminclient.Client
	// Transport is shared by the workers; nil means a new one.
	Transport http.RoundTripper
	// Users caps how many users a scenario creates (default 16); workers
	// share them round robin.
	Users int
	// Devices is how many app devices the push scenario keeps connected
	// (default 1000).
	Devices int
	// PID is the server's process, for the push scenario's memory per
	// device; zero when unknown.
	PID int
}

// New returns the named scenario against t.
func New(name string, t Target) (Scenario, error) {
	if t.Users <= 0 {
		t.Users = 16
	}
	t.Base = strings.TrimSuffix(t.Base, "/")
	f := &fixture{t: t, run: strings.ToLower(randomString(6))}
	switch name {
	case "signin":
		return &signInScenario{fixture: f}, nil
	case "oidc-code":
		return &codeScenario{fixture: f}, nil
	case "refresh":
		return &refreshScenario{fixture: f}, nil
	case "client-credentials":
		return &clientCredentialsScenario{fixture: f}, nil
	case "introspect":
		return &introspectScenario{fixture: f}, nil
	case "risk":
		return &riskScenario{fixture: f}, nil
	case "ciba":
		return &cibaScenario{fixture: f}, nil
	case "push":
		if f.t.Devices <= 0 {
			f.t.Devices = 1000
		}
		return &pushScenario{cibaScenario: &cibaScenario{fixture: f}}, nil
	}
	return nil, fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(Scenarios, ", "))
}

// fixture is what a scenario creates through the admin API and removes
// afterwards: users with random passwords, an OpenID Connect client, and a
// simulated browser per worker.
type fixture struct {
	t   Target
	run string // tags this run's users and client

	users    []benchUser
	client   string
	secret   string
	browsers []*browser

	mu      sync.Mutex
	created []string // user ids to delete
}

type benchUser struct{ email, password string }

// redirectURI is the bench client's callback: never contacted, the flow
// stops when the server redirects there.
const redirectURI = "http://127.0.0.1:9/bench/callback"

// setup creates the users and, with grants set, a first-party
// confidential client for those grant types (nil: the server's default).
func (f *fixture) setup(ctx context.Context, workers int, withClient bool, grants ...string) error {
	if f.t.Transport == nil {
		f.t.Transport = NewTransport(workers)
	}
	for range workers {
		f.browsers = append(f.browsers, newBrowser(f.t.Base, f.t.Transport))
	}
	n := min(workers, f.t.Users)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	f.users = make([]benchUser, n)
	for i := range n {
		f.users[i] = benchUser{email: fmt.Sprintf("bench-%s-%d@example.com", f.run, i), password: randomString(18)}
		wg.Go(func() {
			u, err := f.t.Admin.CreateUser(ctx, adminclient.NewUser{Email: f.users[i].email, Name: "Bench " + f.run, Password: f.users[i].password})
			if err != nil {
				errs <- fmt.Errorf("create user %s: %w", f.users[i].email, err)
				return
			}
			f.mu.Lock()
			f.created = append(f.created, u.ID)
			f.mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	if withClient {
		// First party: the operator's own application, so no consent page.
		c, err := f.t.Admin.CreateClient(ctx, adminclient.NewOIDCClient{ID: "bench-" + f.run, RedirectURIs: []string{redirectURI},
			FirstParty: true, GrantTypes: grants})
		if err != nil {
			return fmt.Errorf("create client: %w", err)
		}
		f.client, f.secret = c.ID, c.Secret
	}
	return nil
}

func (f *fixture) Teardown(ctx context.Context) error {
	var errs []error
	if f.client != "" {
		if err := f.t.Admin.DeleteClient(ctx, f.client); err != nil && !adminclient.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete client %s: %w", f.client, err))
		}
		f.client = ""
	}
	// A few at a time: the push scenario makes thousands.
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, id := range f.created {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f.t.Admin.DeleteUser(ctx, id); err != nil && !adminclient.IsNotFound(err) {
				f.mu.Lock()
				errs = append(errs, fmt.Errorf("delete user %s: %w", id, err))
				f.mu.Unlock()
			}
		})
	}
	wg.Wait()
	f.created = nil
	return errors.Join(errs...)
}

func (f *fixture) user(w int) benchUser { return f.users[w%len(f.users)] }

// signInScenario is a full browser sign-in with a password: a fresh
// browser loads /signin (cookies and the CSRF token) and posts the form;
// success is the redirect to the account page with a session.
type signInScenario struct{ *fixture }

func (s *signInScenario) Setup(ctx context.Context, workers int) error {
	return s.setup(ctx, workers, false)
}

func (s *signInScenario) Do(ctx context.Context, w int) error {
	b, u := s.browsers[w], s.user(w)
	b.forget()
	page, _ := url.Parse(s.t.Base + "/signin")
	loc, err := b.signIn(ctx, page, u.email, u.password)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(loc, "/account") {
		return opErr("signin_unexpected_redirect", "to %s", loc)
	}
	if !slices.ContainsFunc(b.hc.Jar.Cookies(page), func(c *http.Cookie) bool { return strings.Contains(c.Name, "session") }) {
		return opErr("signin_no_session", "no session cookie after sign-in")
	}
	return nil
}

// codeFlow runs the authorization code flow with PKCE and redeems the
// code: in a fresh browser, through the sign-in pages; otherwise with the
// browser's session if it has one.
func (f *fixture) codeFlow(ctx context.Context, b *browser, u benchUser, scope string, fresh bool) (tokenAnswer, error) {
	if fresh {
		b.forget()
	}
	verifier := randomString(32)
	state := randomString(12)
	q := url.Values{"client_id": {f.client}, "response_type": {"code"}, "scope": {scope}, "redirect_uri": {redirectURI},
		"state": {state}, "nonce": {randomString(12)}, "code_challenge": {pkceChallenge(verifier)}, "code_challenge_method": {"S256"}}
	next := f.t.Base + "/authorize?" + q.Encode()
	var code string
	signedIn := false
	for range 12 {
		a, err := b.get(ctx, next)
		if err != nil {
			return tokenAnswer{}, err
		}
		loc := a.header.Get("Location")
		if a.status/100 != 3 || loc == "" {
			return tokenAnswer{}, opErr(fmt.Sprintf("authorize_http_%d", a.status), "GET %s", strings.SplitN(next, "?", 2)[0])
		}
		if strings.HasPrefix(loc, redirectURI) {
			cb, err := url.Parse(loc)
			if err != nil {
				return tokenAnswer{}, opErr("authorize_bad_callback", "%v", err)
			}
			if e := cb.Query().Get("error"); e != "" {
				return tokenAnswer{}, opErr("authorize_"+e, "%s", cb.Query().Get("error_description"))
			}
			if cb.Query().Get("state") != state {
				return tokenAnswer{}, opErr("authorize_state_mismatch", "the callback's state is not the request's")
			}
			code = cb.Query().Get("code")
			break
		}
		u2, err := resolve(next, loc)
		if err != nil {
			return tokenAnswer{}, opErr("authorize_bad_redirect", "%v", err)
		}
		if u2.Path == "/signin" && !signedIn {
			loc, err = b.signIn(ctx, u2, u.email, u.password)
			if err != nil {
				return tokenAnswer{}, err
			}
			signedIn = true
			if u2, err = resolve(f.t.Base+"/", loc); err != nil {
				return tokenAnswer{}, opErr("authorize_bad_redirect", "%v", err)
			}
		}
		next = u2.String()
	}
	if code == "" {
		return tokenAnswer{}, opErr("authorize_no_code", "the flow did not reach the callback with a code")
	}
	t, err := b.token(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
		"code_verifier": {verifier}}, f.client, f.secret)
	if err != nil {
		return t, err
	}
	if t.IDToken == "" {
		return t, opErr("token_no_id_token", "the code's answer has no ID token")
	}
	return t, nil
}

// codeScenario is the authorization code flow with PKCE end to end: the
// authorization request, the sign-in pages in a fresh browser, the
// redirect back with a code, and its redemption at the token endpoint.
type codeScenario struct{ *fixture }

func (s *codeScenario) Setup(ctx context.Context, workers int) error {
	return s.setup(ctx, workers, true)
}

func (s *codeScenario) Do(ctx context.Context, w int) error {
	_, err := s.codeFlow(ctx, s.browsers[w], s.user(w), "openid email", true)
	return err
}

// refreshScenario is the refresh grant with rotation: each worker holds a
// token family (from one code flow at setup) and redeems its current
// refresh token for the next.
type refreshScenario struct {
	*fixture
	tokens []string
}

func (s *refreshScenario) Setup(ctx context.Context, workers int) error {
	if err := s.setup(ctx, workers, true); err != nil {
		return err
	}
	ts, err := s.tokensFor(ctx, workers, "openid offline_access")
	if err != nil {
		return err
	}
	s.tokens = make([]string, workers)
	for w, t := range ts {
		if t.RefreshToken == "" {
			return errors.New("first tokens: no refresh token for offline_access")
		}
		s.tokens[w] = t.RefreshToken
	}
	return nil
}

// tokensFor runs a code flow for each of n workers: each user signs in
// once, and the flows of the workers sharing that user reuse the session.
func (f *fixture) tokensFor(ctx context.Context, n int, scope string) ([]tokenAnswer, error) {
	out := make([]tokenAnswer, n)
	errs := make(chan error, len(f.users))
	var wg sync.WaitGroup
	for u := range f.users {
		wg.Go(func() {
			b := newBrowser(f.t.Base, f.t.Transport)
			for w := u; w < n; w += len(f.users) {
				t, err := f.codeFlow(ctx, b, f.users[u], scope, w == u)
				if err != nil {
					errs <- fmt.Errorf("first tokens: %w", err)
					return
				}
				out[w] = t
			}
		})
	}
	wg.Wait()
	close(errs)
	return out, <-errs
}

func (s *refreshScenario) Do(ctx context.Context, w int) error {
	b := s.browsers[w]
	if s.tokens[w] == "" { // the family was lost to an earlier error
		t, err := s.codeFlow(ctx, b, s.user(w), "openid offline_access", true)
		if err != nil {
			return err
		}
		s.tokens[w] = t.RefreshToken
	}
	t, err := b.token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.tokens[w]}}, s.client, s.secret)
	if err != nil {
		s.tokens[w] = ""
		return err
	}
	if t.RefreshToken == "" || t.RefreshToken == s.tokens[w] {
		s.tokens[w] = ""
		return opErr("refresh_not_rotated", "no new refresh token")
	}
	s.tokens[w] = t.RefreshToken
	return nil
}

// clientCredentialsScenario is the client credentials grant: a
// confidential client asks for an access token for itself.
type clientCredentialsScenario struct {
	*fixture
	callers []*tokenCaller
}

func (s *clientCredentialsScenario) Setup(ctx context.Context, workers int) error {
	if s.t.Transport == nil {
		s.t.Transport = NewTransport(workers)
	}
	var d struct {
		GrantTypes []string `json:"grant_types_supported"`
	}
	a, err := newBrowser(s.t.Base, s.t.Transport).get(ctx, s.t.Base+"/.well-known/openid-configuration")
	if err != nil {
		return err
	}
	if a.status != http.StatusOK || json.Unmarshal(a.body, &d) != nil {
		return fmt.Errorf("discovery: HTTP %d", a.status)
	}
	if !slices.Contains(d.GrantTypes, "client_credentials") {
		return fmt.Errorf("%w: the server does not offer the client_credentials grant (grant_types_supported: %s)",
			ErrUnsupported, strings.Join(d.GrantTypes, " "))
	}
	if err := s.setup(ctx, 1, true, "client_credentials"); err != nil {
		return err
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	for range workers {
		s.callers = append(s.callers, newTokenCaller(s.t.Base, s.t.Transport, form, s.client, s.secret))
	}
	return nil
}

func (s *clientCredentialsScenario) Do(ctx context.Context, w int) error {
	_, err := s.callers[w].call(ctx)
	return err
}

// ErrUnsupported marks a scenario the server does not offer.
var ErrUnsupported = errors.New("not supported by this server")

// introspectScenario is a resource server checking access tokens at the
// introspection endpoint (RFC 7662) with its client credentials.
type introspectScenario struct {
	*fixture
	tokens []string
}

func (s *introspectScenario) Setup(ctx context.Context, workers int) error {
	if err := s.setup(ctx, workers, true); err != nil {
		return err
	}
	// One access token per user, shared by the workers.
	ts, err := s.tokensFor(ctx, len(s.users), "openid")
	if err != nil {
		return err
	}
	for _, t := range ts {
		s.tokens = append(s.tokens, t.AccessToken)
	}
	return nil
}

func (s *introspectScenario) Do(ctx context.Context, w int) error {
	a, err := s.browsers[w].post(ctx, "/oauth/introspect", url.Values{"token": {s.tokens[w%len(s.tokens)]}}, s.client, s.secret)
	if err != nil {
		return err
	}
	if a.status != http.StatusOK {
		return opErr(fmt.Sprintf("introspect_http_%d", a.status), "POST /oauth/introspect")
	}
	var in struct {
		Active bool `json:"active"`
	}
	if json.Unmarshal(a.body, &in) != nil || !in.Active {
		return opErr("introspect_inactive", "the token is not active")
	}
	return nil
}

// SkipReason is the message of an ErrUnsupported error without the
// sentinel's own words.
func SkipReason(err error) string {
	s := err.Error()
	if i := strings.Index(s, ErrUnsupported.Error()+": "); i >= 0 {
		return s[i+len(ErrUnsupported.Error())+2:]
	}
	return s
}
