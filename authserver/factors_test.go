package authserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"html"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/pquerna/otp/totp"

	"github.com/assent-auth/assent/store"
)

// The relying party of the factor tests. The test server listens on
// 127.0.0.1, which browsers refuse as an RP ID; the software authenticator
// is told this origin instead, as a browser on login.test would be.
var testRP = virtualwebauthn.RelyingParty{ID: "login.test", Name: "Assent", Origin: "https://login.test"}

func withPasskeys(c *Config) {
	c.Passkeys = PasskeyConfig{RPID: testRP.ID, Origins: []string{testRP.Origin}}
}

// softKey is a software authenticator with one ES256 credential.
type softKey struct {
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

func newSoftKey(opts virtualwebauthn.AuthenticatorOptions) *softKey {
	return &softKey{auth: virtualwebauthn.NewAuthenticatorWithOptions(opts), cred: newES256Credential()}
}

// newES256Credential returns a software credential with a P-256 key whose
// coordinates both take the full 32 bytes. The software authenticator
// encodes coordinates without their leading zero bytes, which a real
// authenticator never does and the COSE decoder rightly refuses, so about
// one key in 128 would make a test fail at random.
func newES256Credential() virtualwebauthn.Credential {
	for {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		if len(k.X.Bytes()) != 32 || len(k.Y.Bytes()) != 32 {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			panic(err)
		}
		return virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, der)
	}
}

func (k *softKey) assert(t *testing.T, options string) string {
	t.Helper()
	ao, err := virtualwebauthn.ParseAssertionOptions(options)
	if err != nil {
		t.Fatalf("assertion options: %v\n%s", err, options)
	}
	k.cred.Counter++
	return virtualwebauthn.CreateAssertionResponse(testRP, k.auth, k.cred, *ao)
}

// csrf returns the browser's CSRF cookie.
func (b *browser) csrf() string {
	u, _ := url.Parse(b.e.ts.URL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == "assent_csrf" {
			return c.Value
		}
	}
	b.t.Fatal("no CSRF cookie")
	return ""
}

// passkeyOptions asks for WebAuthn options as the page's script does.
func (b *browser) passkeyOptions(purpose string) response {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.e.ts.URL+"/passkeys/options", strings.NewReader(`{"purpose":"`+purpose+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", b.e.ts.URL)
	req.Header.Set("X-CSRF-Token", b.csrf())
	return b.do(req)
}

func (b *browser) signUp(email, password string) {
	b.t.Helper()
	r := b.submit("/signup", "/signup", url.Values{"email": {email}, "name": {"Ada"}, "password": {password}})
	if r.status != http.StatusSeeOther {
		b.t.Fatalf("sign-up: %d %s", r.status, truncate(r.body, 500))
	}
}

func (b *browser) signOut() {
	b.t.Helper()
	if r := b.submit("/account", "/signout", url.Values{}); r.status != http.StatusSeeOther {
		b.t.Fatalf("sign-out: %d", r.status)
	}
}

// addPasskey registers k on the security page.
func (b *browser) addPasskey(k *softKey, name string) response {
	b.t.Helper()
	b.get("/security")
	r := b.passkeyOptions("register")
	if r.status != 200 {
		b.t.Fatalf("registration options: %d %s", r.status, r.body)
	}
	ao, err := virtualwebauthn.ParseAttestationOptions(r.body)
	if err != nil {
		b.t.Fatal(err)
	}
	k.auth.Options.UserHandle = []byte(ao.UserID)
	resp := virtualwebauthn.CreateAttestationResponse(testRP, k.auth, k.cred, *ao)
	k.auth.AddCredential(k.cred)
	return b.post("/security/passkeys", url.Values{"csrf": {b.csrf()}, "name": {name}, "credential": {resp}})
}

// passkeySignIn signs in usernameless with k.
func (b *browser) passkeySignIn(k *softKey) response {
	b.t.Helper()
	b.get("/signin")
	r := b.passkeyOptions("signin")
	if r.status != 200 {
		b.t.Fatalf("sign-in options: %d %s", r.status, r.body)
	}
	return b.post("/signin/passkey", url.Values{"csrf": {b.csrf()}, "credential": {k.assert(b.t, r.body)}})
}

var (
	totpKeyRE  = regexp.MustCompile(`<code class="totp-key">([A-Z2-7 ]+)</code>`)
	recoveryRE = regexp.MustCompile(`<li><code>([0-9a-z-]{19})</code></li>`)
)

// enrollTOTP sets up an authenticator app on the security page and
// returns its key.
func (b *browser) enrollTOTP() string {
	b.t.Helper()
	if r := b.submit("/security", "/security/totp", url.Values{}); r.status != http.StatusSeeOther {
		b.t.Fatalf("begin TOTP: %d %s", r.status, truncate(r.body, 500))
	}
	r := b.get("/security/totp")
	m := totpKeyRE.FindStringSubmatch(r.body)
	if m == nil {
		b.t.Fatalf("no key on the TOTP page: %s", truncate(r.body, 2000))
	}
	mustContain(b.t, "TOTP page", r.body, `src="data:image/png;base64,`)
	mustContain(b.t, "TOTP page", r.body, `href="otpauth://totp/`)
	key := strings.ReplaceAll(m[1], " ", "")
	code, _ := totp.GenerateCode(key, b.e.clock.Now())
	if r := b.post("/security/totp/confirm", url.Values{"csrf": {b.csrf()}, "code": {code}}); r.status != http.StatusSeeOther {
		b.t.Fatalf("confirm TOTP: %d %s", r.status, truncate(r.body, 500))
	}
	return key
}

// lastEvent returns the newest audit event of kind.
func (e *env) lastEvent(kind string) store.AuditEvent {
	e.t.Helper()
	evs := e.auditEvents()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == kind {
			return evs[i]
		}
	}
	e.t.Fatalf("no %s event in %v", kind, e.auditKinds())
	return store.AuditEvent{}
}

func wantRedirect(t *testing.T, what string, r response, to string) {
	t.Helper()
	if r.status != http.StatusSeeOther || r.header.Get("Location") != to {
		t.Fatalf("%s: %d to %q, want 303 to %q\n%s", what, r.status, r.header.Get("Location"), to, truncate(r.body, 1000))
	}
}

func TestPasskeyAddAndSignInUsernameless(t *testing.T) {
	e := newEnv(t, withPasskeys)
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	k := newSoftKey(virtualwebauthn.AuthenticatorOptions{})
	wantRedirect(t, "add passkey", b.addPasskey(k, "Laptop"), "/security?done=passkey_added")
	page := b.get("/security").body
	mustContain(t, "security page", page, "Laptop")
	mustContain(t, "security page", page, "this device only")
	added := e.lastEvent("factor.added")
	if added.Details["kind"] != "passkey" || added.Details["user_verified"] != "true" {
		t.Errorf("factor.added = %+v", added)
	}

	b.signOut()
	signin := b.get("/signin").body
	mustContain(t, "sign-in page", signin, `autocomplete="username webauthn"`)
	mustContain(t, "sign-in page", signin, `<script src="/static/passkeys.js" defer></script>`)
	wantRedirect(t, "passkey sign-in", b.passkeySignIn(k), "/account")
	if r := b.get("/account"); r.status != 200 || !strings.Contains(r.body, "ada@example.com") {
		t.Fatalf("account after passkey sign-in: %d", r.status)
	}
	ev := e.lastEvent("signin.succeeded")
	if ev.Details["amr"] != "hwk user" || ev.Details["method"] != "passkey" {
		t.Errorf("signin.succeeded = %+v", ev.Details)
	}
	// The session records the same methods.
	sess, err := e.srv.session(cookieRequest(b))
	if err != nil || strings.Join(sess.AMR, " ") != "hwk user" {
		t.Errorf("session amr = %v, %v", sess.AMR, err)
	}
}

// cookieRequest is a request carrying the browser's cookies.
func cookieRequest(b *browser) *http.Request {
	req, _ := http.NewRequest("GET", b.e.ts.URL+"/", nil)
	u, _ := url.Parse(b.e.ts.URL)
	for _, c := range b.jar.Cookies(u) {
		req.AddCookie(c)
	}
	return req
}

func TestSecondFactorTOTP(t *testing.T) {
	e := newEnv(t, withPasskeys)
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	key := b.enrollTOTP()
	b.signOut()

	wantRedirect(t, "password", b.signIn("ada@example.com", "correct horse battery"), "/signin/factor")
	page := b.get("/signin/factor")
	mustContain(t, "factor page", page.body, `action="/signin/factor/totp"`)
	if strings.Contains(page.body, `action="/signin/factor/passkey"`) {
		t.Error("factor page offers a passkey the user does not have")
	}
	if r := b.get("/account"); r.status != http.StatusSeeOther {
		t.Fatalf("a password alone gave a session: %d", r.status)
	}

	// The code that confirmed the enrollment is spent.
	spent, _ := totp.GenerateCode(key, e.clock.Now())
	r := b.post("/signin/factor/totp", url.Values{"csrf": {b.csrf()}, "code": {spent}})
	if r.status != http.StatusUnauthorized || e.lastEvent("signin.failed").Details["reason"] != "replayed_code" {
		t.Fatalf("replayed code: %d %+v", r.status, e.lastEvent("signin.failed"))
	}
	r = b.post("/signin/factor/totp", url.Values{"csrf": {b.csrf()}, "code": {"000000"}})
	if r.status != http.StatusUnauthorized || e.lastEvent("signin.failed").Details["reason"] != "invalid_code" {
		t.Fatalf("wrong code: %d", r.status)
	}
	e.clock.Advance(30 * time.Second)
	code, _ := totp.GenerateCode(key, e.clock.Now())
	wantRedirect(t, "TOTP", b.post("/signin/factor/totp", url.Values{"csrf": {b.csrf()}, "code": {code}}), "/account")
	ev := e.lastEvent("signin.succeeded")
	if ev.Details["amr"] != "pwd otp mfa" || ev.Details["second_factor"] != "totp" {
		t.Errorf("signin.succeeded = %+v", ev.Details)
	}
	if r := b.get("/account"); r.status != 200 {
		t.Fatalf("account: %d", r.status)
	}

	// The pending sign-in was used up: the page is gone, and so is the code.
	if r := b.get("/signin/factor"); r.status != http.StatusUnauthorized {
		t.Errorf("factor page after sign-in: %d", r.status)
	}
	b.signOut()
	b.signIn("ada@example.com", "correct horse battery")
	r = b.post("/signin/factor/totp", url.Values{"csrf": {b.csrf()}, "code": {code}})
	if r.status != http.StatusUnauthorized {
		t.Fatalf("the same code twice: %d", r.status)
	}
}

func TestSecondFactorPasskey(t *testing.T) {
	e := newEnv(t, withPasskeys)
	ada, bob := e.browser(), e.browser()
	ada.signUp("ada@example.com", "correct horse battery")
	bob.signUp("bob@example.com", "correct horse battery")
	adaKey := newSoftKey(virtualwebauthn.AuthenticatorOptions{})
	bobKey := newSoftKey(virtualwebauthn.AuthenticatorOptions{})
	ada.addPasskey(adaKey, "Ada's key")
	bob.addPasskey(bobKey, "Bob's key")
	ada.signOut()

	wantRedirect(t, "password", ada.signIn("ada@example.com", "correct horse battery"), "/signin/factor")
	mustContain(t, "factor page", ada.get("/signin/factor").body, `data-passkey="second_factor"`)

	// Bob's passkey is refused for Ada.
	opts := ada.passkeyOptions("second_factor")
	r := ada.post("/signin/factor/passkey", url.Values{"csrf": {ada.csrf()}, "credential": {bobKey.assert(t, opts.body)}})
	if r.status != http.StatusUnauthorized || e.lastEvent("signin.failed").Details["reason"] != "wrong_user" {
		t.Fatalf("another user's passkey: %d %+v", r.status, e.lastEvent("signin.failed"))
	}
	opts = ada.passkeyOptions("second_factor")
	ao, _ := virtualwebauthn.ParseAssertionOptions(opts.body)
	if !adaKey.cred.IsAllowedForAssertion(*ao) || bobKey.cred.IsAllowedForAssertion(*ao) {
		t.Fatalf("allowCredentials = %v", ao.AllowCredentials)
	}
	lazy := *adaKey // a key that does not verify the user is fine as a second factor
	lazy.auth.Options.UserNotVerified = true
	r = ada.post("/signin/factor/passkey", url.Values{"csrf": {ada.csrf()}, "credential": {lazy.assert(t, opts.body)}})
	wantRedirect(t, "passkey second factor", r, "/account")
	if ev := e.lastEvent("signin.succeeded"); ev.Details["amr"] != "pwd hwk mfa" {
		t.Errorf("amr = %q", ev.Details["amr"])
	}
}

func TestRecoveryCodeOnceNotTwice(t *testing.T) {
	e := newEnv(t, withPasskeys)
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	mustContain(t, "security page", b.get("/security").body, "Add a passkey or an authenticator app first")
	b.enrollTOTP()
	r := b.submit("/security", "/security/recovery", url.Values{})
	codes := recoveryRE.FindAllStringSubmatch(r.body, -1)
	if r.status != 200 || len(codes) != 10 {
		t.Fatalf("recovery codes page: %d, %d codes", r.status, len(codes))
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Error("the recovery codes page may be cached")
	}
	// Shown once: the security page lists no codes afterwards.
	if again := b.get("/security").body; recoveryRE.MatchString(again) || !strings.Contains(again, "10 of 10") {
		t.Fatal("recovery codes shown again")
	}
	code := codes[4][1]
	b.signOut()

	b.signIn("ada@example.com", "correct horse battery")
	r = b.post("/signin/factor/recovery", url.Values{"csrf": {b.csrf()}, "code": {strings.ToUpper(code)}})
	wantRedirect(t, "recovery code", r, "/security?recovery_left=9")
	mustContain(t, "security page", b.get("/security?recovery_left=9").body, "9 codes are left")
	used := e.lastEvent("recovery_code.used")
	if used.Details["remaining"] != "9" || used.Subject == "" {
		t.Errorf("recovery_code.used = %+v", used)
	}
	if ev := e.lastEvent("signin.succeeded"); ev.Details["amr"] != "pwd mfa" || ev.Details["second_factor"] != "recovery_code" {
		t.Errorf("signin.succeeded = %+v", ev.Details)
	}
	b.signOut()

	b.signIn("ada@example.com", "correct horse battery")
	r = b.post("/signin/factor/recovery", url.Values{"csrf": {b.csrf()}, "code": {code}})
	if r.status != http.StatusUnauthorized || e.lastEvent("signin.failed").Details["reason"] != "replayed_code" {
		t.Fatalf("second use: %d %+v", r.status, e.lastEvent("signin.failed"))
	}
	mustContain(t, "factor page", html.UnescapeString(r.body), "not valid or was already used")
}

func TestSecondFactorThrottle(t *testing.T) {
	e := newEnv(t, withPasskeys)
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	key := b.enrollTOTP()
	b.signOut()
	b.signIn("ada@example.com", "correct horse battery")
	for i := range maxSecondFactorFailures {
		if r := b.post("/signin/factor/totp", url.Values{"csrf": {b.csrf()}, "code": {"000000"}}); r.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, r.status)
		}
	}
	e.clock.Advance(30 * time.Second)
	code, _ := totp.GenerateCode(key, e.clock.Now())
	r := b.post("/signin/factor/totp", url.Values{"csrf": {b.csrf()}, "code": {code}})
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("after %d failures the right code got %d", maxSecondFactorFailures, r.status)
	}
	// A new password sign-in does not reset the count.
	b.signIn("ada@example.com", "correct horse battery")
	if r := b.post("/signin/factor/totp", url.Values{"csrf": {b.csrf()}, "code": {code}}); r.status != http.StatusTooManyRequests {
		t.Fatalf("after a new password: %d", r.status)
	}
	e.clock.Advance(16 * time.Minute)
	b.signIn("ada@example.com", "correct horse battery")
	code, _ = totp.GenerateCode(key, e.clock.Now())
	wantRedirect(t, "after the window", b.post("/signin/factor/totp", url.Values{"csrf": {b.csrf()}, "code": {code}}), "/account")
}

func TestPendingSignIn(t *testing.T) {
	e := newEnv(t, withPasskeys)
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	key := b.enrollTOTP()
	b.signOut()

	t.Run("none", func(t *testing.T) {
		fresh := e.browser()
		fresh.get("/signin")
		if r := fresh.post("/signin/factor/totp", url.Values{"csrf": {fresh.csrf()}, "code": {"123456"}}); r.status != http.StatusUnauthorized {
			t.Fatalf("no pending sign-in: %d", r.status)
		}
	})
	t.Run("expired", func(t *testing.T) {
		b.signIn("ada@example.com", "correct horse battery")
		e.clock.Advance(flowTTL + time.Second)
		code, _ := totp.GenerateCode(key, e.clock.Now())
		r := b.post("/signin/factor/totp", url.Values{"csrf": {b.csrf()}, "code": {code}})
		if r.status != http.StatusUnauthorized || !strings.Contains(html.UnescapeString(r.body), "took too long") {
			t.Fatalf("expired pending sign-in: %d", r.status)
		}
	})
	t.Run("another browser", func(t *testing.T) {
		b.signIn("ada@example.com", "correct horse battery")
		thief := e.browser()
		thief.get("/signin")
		u, _ := url.Parse(e.ts.URL)
		for _, c := range b.jar.Cookies(u) {
			if c.Name == pendingCookie {
				thief.jar.SetCookies(u, []*http.Cookie{c})
			}
		}
		e.clock.Advance(30 * time.Second)
		code, _ := totp.GenerateCode(key, e.clock.Now())
		if r := thief.post("/signin/factor/totp", url.Values{"csrf": {thief.csrf()}, "code": {code}}); r.status != http.StatusUnauthorized {
			t.Fatalf("pending sign-in lifted into another browser: %d", r.status)
		}
	})
	t.Run("single use", func(t *testing.T) {
		b.signIn("ada@example.com", "correct horse battery")
		u, _ := url.Parse(e.ts.URL)
		var saved *http.Cookie
		for _, c := range b.jar.Cookies(u) {
			if c.Name == pendingCookie {
				saved = c
			}
		}
		e.clock.Advance(30 * time.Second)
		code, _ := totp.GenerateCode(key, e.clock.Now())
		wantRedirect(t, "TOTP", b.post("/signin/factor/totp", url.Values{"csrf": {b.csrf()}, "code": {code}}), "/account")
		b.jar.SetCookies(u, []*http.Cookie{saved})
		e.clock.Advance(30 * time.Second)
		code, _ = totp.GenerateCode(key, e.clock.Now())
		if r := b.post("/signin/factor/totp", url.Values{"csrf": {b.csrf()}, "code": {code}}); r.status != http.StatusUnauthorized {
			t.Fatalf("a used pending sign-in worked again: %d", r.status)
		}
	})
}

func TestPasskeyBadInput(t *testing.T) {
	e := newEnv(t, withPasskeys)
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	k := newSoftKey(virtualwebauthn.AuthenticatorOptions{})
	b.addPasskey(k, "key")
	b.signOut()
	factors := func() []store.Factor {
		fs, _ := e.db.ListFactors(t.Context(), e.lastEvent("factor.added").Subject)
		return fs
	}
	before := factors()
	ipKey := netKeyOf(netip.MustParseAddr("127.0.0.1"))

	tests := []struct {
		name   string
		run    func(t *testing.T) response
		reason string
	}{
		{"garbage", func(t *testing.T) response {
			b.get("/signin")
			b.passkeyOptions("signin")
			return b.post("/signin/passkey", url.Values{"csrf": {b.csrf()}, "credential": {`{"id":"%%%","response":{}}`}})
		}, "malformed"},
		{"no ceremony", func(t *testing.T) response {
			fresh := e.browser()
			fresh.get("/signin")
			opts := fresh.passkeyOptions("signin")
			resp := k.assert(t, opts.body)
			other := e.browser()
			other.get("/signin")
			return other.post("/signin/passkey", url.Values{"csrf": {other.csrf()}, "credential": {resp}})
		}, "no_ceremony"},
		{"replayed", func(t *testing.T) response {
			b.get("/signin")
			opts := b.passkeyOptions("signin")
			resp := k.assert(t, opts.body)
			u, _ := url.Parse(e.ts.URL)
			var ceremony *http.Cookie
			for _, c := range b.jar.Cookies(u) {
				if c.Name == ceremonyCookie {
					ceremony = c
				}
			}
			wantRedirect(t, "first use", b.post("/signin/passkey", url.Values{"csrf": {b.csrf()}, "credential": {resp}}), "/account")
			b.jar.SetCookies(u, []*http.Cookie{ceremony})
			return b.post("/signin/passkey", url.Values{"csrf": {b.csrf()}, "credential": {resp}})
		}, "challenge_reused"},
		{"expired", func(t *testing.T) response {
			b.get("/signin")
			opts := b.passkeyOptions("signin")
			e.clock.Advance(flowTTL + time.Second)
			return b.post("/signin/passkey", url.Values{"csrf": {b.csrf()}, "credential": {k.assert(t, opts.body)}})
		}, "expired"},
		{"wrong origin", func(t *testing.T) response {
			b.get("/signin")
			opts := b.passkeyOptions("signin")
			ao, _ := virtualwebauthn.ParseAssertionOptions(opts.body)
			k.cred.Counter++
			resp := virtualwebauthn.CreateAssertionResponse(virtualwebauthn.RelyingParty{ID: testRP.ID, Origin: "https://evil.test"}, k.auth, k.cred, *ao)
			return b.post("/signin/passkey", url.Values{"csrf": {b.csrf()}, "credential": {resp}})
		}, "wrong_origin"},
		{"counter regression", func(t *testing.T) response {
			b.get("/signin")
			opts := b.passkeyOptions("signin")
			k.cred.Counter = 0
			return b.post("/signin/passkey", url.Values{"csrf": {b.csrf()}, "credential": {k.assert(t, opts.body)}})
		}, "counter_regression"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := e.srv.throttle.count(ipKey)
			r := tc.run(t)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", r.status)
			}
			ev := e.lastEvent("signin.failed")
			if ev.Details["reason"] != tc.reason || ev.Details["method"] != "passkey" {
				t.Fatalf("signin.failed = %+v, want reason %s", ev, tc.reason)
			}
			if e.srv.throttle.count(ipKey) != n+1 {
				t.Error("the failure was not counted by the brute-force defence")
			}
			for _, c := range r.header.Values("Set-Cookie") {
				if strings.HasPrefix(c, "assent_session=") && !strings.HasPrefix(c, "assent_session=;") {
					t.Error("a refused passkey set a session cookie")
				}
			}
		})
	}
	after := factors()
	if len(after) != len(before) || after[0].CreatedAt != before[0].CreatedAt {
		t.Fatalf("factors changed: %+v", after)
	}
	if e.lastEvent("factor.suspect").Subject != after[0].UserID {
		t.Error("no factor.suspect event for the counter regression")
	}
}

func TestPasskeyOptionsEndpoint(t *testing.T) {
	e := newEnv(t, withPasskeys)
	b := e.browser()
	b.get("/signin")
	for _, tc := range []struct {
		name, body, csrf string
		status           int
	}{
		{"no csrf", `{"purpose":"signin"}`, "", http.StatusForbidden},
		{"bad purpose", `{"purpose":"steal"}`, "ok", http.StatusBadRequest},
		{"unknown field", `{"purpose":"signin","x":1}`, "ok", http.StatusBadRequest},
		{"not json", `purpose=signin`, "ok", http.StatusBadRequest},
		{"register signed out", `{"purpose":"register"}`, "ok", http.StatusUnauthorized},
		{"second factor without password", `{"purpose":"second_factor"}`, "ok", http.StatusUnauthorized},
		{"signin", `{"purpose":"signin"}`, "ok", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.ts.URL+"/passkeys/options", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			if tc.csrf != "" {
				req.Header.Set("X-CSRF-Token", b.csrf())
			}
			r := b.do(req)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if r.status != 200 && r.header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("error answer is %q", r.header.Get("Content-Type"))
			}
		})
	}
	// Cross-site requests are refused before any handler runs.
	req, _ := http.NewRequest("POST", e.ts.URL+"/passkeys/options", strings.NewReader(`{"purpose":"signin"}`))
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("X-CSRF-Token", b.csrf())
	if r := b.do(req); r.status != http.StatusForbidden {
		t.Errorf("cross-site options request: %d", r.status)
	}

	// With an IP issuer and no RP ID, passkeys are off and not offered.
	off := newEnv(t)
	ob := off.browser()
	if strings.Contains(ob.get("/signin").body, "passkeys.js") {
		t.Error("the sign-in page offers passkeys that are off")
	}
	if r := ob.passkeyOptions("signin"); r.status != http.StatusNotFound {
		t.Errorf("options with passkeys off: %d", r.status)
	}
}

func TestRemoveLastFactorNeedsFreshStrongSignIn(t *testing.T) {
	e := newEnv(t, withPasskeys)
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	key := b.enrollTOTP()
	k := newSoftKey(virtualwebauthn.AuthenticatorOptions{})
	b.addPasskey(k, "key")
	pkID := e.lastEvent("factor.added").Details["factor_id"]

	// Not the last one: a password session may remove it.
	wantRedirect(t, "remove passkey", b.submit("/security", "/security/factors/"+pkID+"/remove", url.Values{}), "/security?done=removed")
	// The last one takes a fresh strong sign-in.
	r := b.submit("/security", "/security/factors/totp/remove", url.Values{})
	if r.status != http.StatusForbidden || e.lastEvent("factor.remove_denied").Details["factor_id"] != "totp" {
		t.Fatalf("removing the last factor from a password session: %d", r.status)
	}
	b.signOut()
	b.signIn("ada@example.com", "correct horse battery")
	e.clock.Advance(30 * time.Second)
	code, _ := totp.GenerateCode(key, e.clock.Now())
	wantRedirect(t, "TOTP", b.post("/signin/factor/totp", url.Values{"csrf": {b.csrf()}, "code": {code}}), "/account")
	e.clock.Advance(freshAuth + time.Second)
	if r := b.submit("/security", "/security/factors/totp/remove", url.Values{}); r.status != http.StatusForbidden {
		t.Fatalf("a stale strong sign-in removed the last factor: %d", r.status)
	}
	b.signOut()
	b.signIn("ada@example.com", "correct horse battery")
	e.clock.Advance(30 * time.Second)
	code, _ = totp.GenerateCode(key, e.clock.Now())
	b.post("/signin/factor/totp", url.Values{"csrf": {b.csrf()}, "code": {code}})
	wantRedirect(t, "remove TOTP", b.submit("/security", "/security/factors/totp/remove", url.Values{}), "/security?done=removed")
	// No factor left: the password alone signs in again.
	b.signOut()
	if r := b.signIn("ada@example.com", "correct horse battery"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/account") {
		t.Fatalf("password only: %d to %q", r.status, r.header.Get("Location"))
	}
}

func TestSecurityPageRename(t *testing.T) {
	e := newEnv(t, withPasskeys)
	b := e.browser()
	if r := b.get("/security"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/signin?return_to=%2Fsecurity" {
		t.Fatalf("signed out: %d %q", r.status, r.header.Get("Location"))
	}
	b.signUp("ada@example.com", "correct horse battery")
	b.addPasskey(newSoftKey(virtualwebauthn.AuthenticatorOptions{}), "old")
	id := e.lastEvent("factor.added").Details["factor_id"]
	wantRedirect(t, "rename", b.submit("/security", "/security/factors/"+id+"/rename", url.Values{"name": {"Work laptop"}}), "/security?done=renamed")
	mustContain(t, "security page", b.get("/security").body, "Work laptop")
	if page := b.get("/security?done=hello_world").body; strings.Contains(page, `class="notice"`) {
		t.Error("a notice from an unknown key in the URL")
	}
	if r := b.submit("/security", "/security/factors/"+id+"/rename", url.Values{"name": {"a\x01b"}}); r.status != http.StatusBadRequest {
		t.Errorf("control character in a name: %d", r.status)
	}
	if r := b.submit("/security", "/security/factors/pk_nope/rename", url.Values{"name": {"x"}}); r.status != http.StatusNotFound {
		t.Errorf("unknown factor: %d", r.status)
	}
	// Another user cannot touch it.
	mallory := e.browser()
	mallory.signUp("mallory@example.com", "correct horse battery")
	if r := mallory.submit("/security", "/security/factors/"+id+"/remove", url.Values{}); r.status != http.StatusNotFound {
		t.Errorf("another user's factor: %d", r.status)
	}
}

func TestAdminFactors(t *testing.T) {
	e := newEnv(t, withPasskeys)
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	b.enrollTOTP()
	b.addPasskey(newSoftKey(virtualwebauthn.AuthenticatorOptions{}), "key")
	r := e.admin("GET", "/admin/v1/users/ada@example.com/factors", nil)
	var list struct {
		Factors []struct {
			ID, Kind, Name string
			Active         bool
			Data           any `json:"data"`
		} `json:"factors"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &list) != nil || len(list.Factors) != 2 {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	for _, secret := range []string{"seed", "public_key", "hash", "salt"} {
		if strings.Contains(r.body, secret) {
			t.Errorf("the admin listing mentions %q: %s", secret, r.body)
		}
	}
	if r := e.admin("DELETE", "/admin/v1/users/ada@example.com/factors/nope", nil); r.status != http.StatusNotFound {
		t.Errorf("delete unknown: %d", r.status)
	}
	if r := e.admin("GET", "/admin/v1/users/nobody@example.com/factors", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown user: %d", r.status)
	}
	if r := e.admin("DELETE", "/admin/v1/users/ada@example.com/factors/totp", nil); r.status != http.StatusOK {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	ev := e.lastEvent("factor.removed")
	if ev.Actor != "admin" || ev.Details["factor_id"] != "totp" {
		t.Errorf("factor.removed = %+v", ev)
	}
}

func TestLockedUserCannotUsePasskey(t *testing.T) {
	e := newEnv(t, withPasskeys)
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	k := newSoftKey(virtualwebauthn.AuthenticatorOptions{})
	b.addPasskey(k, "key")
	b.signOut()
	if r := e.admin("POST", "/admin/v1/users/ada@example.com/lock", nil); r.status != 200 {
		t.Fatal(r.status)
	}
	if r := b.passkeySignIn(k); r.status != http.StatusUnauthorized {
		t.Fatalf("locked user signed in with a passkey: %d", r.status)
	}
	if ev := e.lastEvent("signin.failed"); ev.Details["reason"] != "locked" {
		t.Errorf("signin.failed = %+v", ev)
	}
}
