package authserver

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/assent-auth/assent/profiles"
)

func TestSignUpSignInSignOut(t *testing.T) {
	e := newEnv(t)
	b := e.browser()

	r := b.submit("/signup", "/signup", url.Values{
		"email": {"  Ada.Lovelace@Example.COM "}, "name": {"<script>alert(1)</script>Ada"}, "password": {"analytical engine 1843"},
	})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account" {
		t.Fatalf("sign-up: %d %q\n%s", r.status, r.header.Get("Location"), r.body)
	}
	r = b.get("/account")
	if r.status != http.StatusOK {
		t.Fatalf("account after sign-up: %d", r.status)
	}
	mustContain(t, "account page", r.body, "ada.lovelace@example.com")
	mustContain(t, "account page", r.body, "&lt;script&gt;alert(1)&lt;/script&gt;Ada")
	if strings.Contains(r.body, "<script>alert") {
		t.Error("account page echoes the name unescaped")
	}

	r = b.submit("/account", "/signout", url.Values{})
	if r.status != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", r.status)
	}
	if r = b.get("/account"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/signin") {
		t.Fatalf("account after sign-out: %d %q", r.status, r.header.Get("Location"))
	}

	e.clock.Advance(2 * time.Hour) // the browser has been known for a while
	r = b.signIn("ADA.lovelace@example.com", "analytical engine 1843")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account" {
		t.Fatalf("sign-in: %d %q", r.status, r.header.Get("Location"))
	}
	if r = b.get("/account"); r.status != http.StatusOK {
		t.Fatalf("account after sign-in: %d", r.status)
	}
	want := []string{"user.created", "signin.succeeded", "signout", "risk.assessed", "signin.succeeded"}
	if got := e.auditKinds(); !slices.Equal(got, want) {
		t.Errorf("audit kinds = %v, want %v", got, want)
	}
	ev := e.auditEvents()[4]
	if ev.IP != "127.0.0.1" || ev.Subject == "" || ev.Outcome != "ok" || ev.Details["amr"] != "pwd" {
		t.Errorf("sign-in audit event = %+v", ev)
	}
}

func TestSignUpRejectsBadInput(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	for _, tc := range []struct {
		name, email, password, wantMsg string
		status                         int
	}{
		{"not an e-mail", "ada", "long enough password", "like name@example.com", 400},
		{"display name form", "Ada <ada@example.com>", "long enough password", "like name@example.com", 400},
		{"short password", "ada@example.com", "short", "at least 8 characters", 400},
		{"common password", "ada@example.com", "password123", "most common", 400},
		{"long password", "ada@example.com", strings.Repeat("x", 129), "at most 128", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.submit("/signup", "/signup", url.Values{"email": {tc.email}, "password": {tc.password}})
			if r.status != tc.status {
				t.Errorf("status = %d, want %d", r.status, tc.status)
			}
			mustContain(t, "sign-up page", r.body, tc.wantMsg)
		})
	}
	// The e-mail is taken: a clear message, and the first account intact.
	if r := b.submit("/signup", "/signup", url.Values{"email": {"ada@example.com"}, "password": {"first good passphrase"}}); r.status != http.StatusSeeOther {
		t.Fatalf("first sign-up: %d", r.status)
	}
	r := e.browser().submit("/signup", "/signup", url.Values{"email": {"ADA@example.com"}, "password": {"second good passphrase"}})
	if r.status != http.StatusConflict {
		t.Errorf("duplicate sign-up: %d", r.status)
	}
	if r := e.browser().signIn("ada@example.com", "first good passphrase"); r.status != http.StatusSeeOther {
		t.Errorf("first password no longer works after a duplicate sign-up: %d", r.status)
	}
	us, _ := e.db.ListUsers(t.Context(), "", 10)
	if len(us) != 1 {
		t.Errorf("%d users stored, want 1", len(us))
	}
}

func TestWrongPasswordAndUnknownUserLookAlike(t *testing.T) {
	e := newEnv(t)
	if _, err := e.profiles.Create(t.Context(), profiles.NewUser{Email: "bob@example.com", Password: "bobs real passphrase"}); err != nil {
		t.Fatal(err)
	}
	wrong := e.browser().signIn("bob@example.com", "not bobs passphrase")
	unknown := e.browser().signIn("nobody@example.com", "not bobs passphrase")
	if wrong.status != http.StatusUnauthorized || unknown.status != http.StatusUnauthorized {
		t.Fatalf("statuses: wrong %d, unknown %d; want 401 both", wrong.status, unknown.status)
	}
	strip := func(s string) string { return csrfRE.ReplaceAllString(s, "") }
	w := strings.ReplaceAll(strip(wrong.body), "bob@example.com", "X")
	u := strings.ReplaceAll(strip(unknown.body), "nobody@example.com", "X")
	if w != u {
		t.Errorf("wrong-password and unknown-user pages differ:\n%s\n---\n%s", w, u)
	}
	mustContain(t, "failure page", wrong.body, "not right")
	evs := e.auditEvents()
	if len(evs) != 2 || evs[0].Details["reason"] != profiles.ReasonBadPassword || evs[1].Details["reason"] != profiles.ReasonUnknownUser {
		t.Errorf("audit = %+v", evs)
	}
	if evs[1].Subject != "" {
		t.Errorf("unknown-user audit event has a subject: %q", evs[1].Subject)
	}
}

func TestLockoutAfterFiveFailures(t *testing.T) {
	e := newEnv(t)
	id, err := e.profiles.Create(t.Context(), profiles.NewUser{Email: "carol@example.com", Password: "carols passphrase"})
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	for i := range 5 {
		if r := b.signIn("carol@example.com", "guess number "+string(rune('a'+i))); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d", i+1, r.status)
		}
	}
	// Locked: even the right password fails, with the same answer.
	if r := b.signIn("carol@example.com", "carols passphrase"); r.status != http.StatusUnauthorized {
		t.Fatalf("right password while locked: %d", r.status)
	}
	u, _ := e.profiles.Get(t.Context(), id.ID)
	if !u.TemporarilyLocked(e.clock.Now()) {
		t.Fatalf("not locked after 5 failures: %+v", u)
	}
	kinds := e.auditKinds()
	if n := strings.Count(strings.Join(kinds, " "), "account.locked"); n != 1 {
		t.Errorf("account.locked events = %d in %v", n, kinds)
	}
	last := e.auditEvents()[len(kinds)-1]
	if last.Details["reason"] != profiles.ReasonTemporarilyLocked {
		t.Errorf("last audit reason = %q", last.Details["reason"])
	}

	e.clock.Advance(15*time.Minute + time.Second)
	if r := b.signIn("carol@example.com", "carols passphrase"); r.status != http.StatusSeeOther {
		t.Fatalf("right password after the lock expired: %d", r.status)
	}
	u, _ = e.profiles.Get(t.Context(), id.ID)
	if u.FailedSignIns != 0 {
		t.Errorf("failure count after success = %d", u.FailedSignIns)
	}
}

func TestOperatorLockEndsSessions(t *testing.T) {
	e := newEnv(t)
	id, _ := e.profiles.Create(t.Context(), profiles.NewUser{Email: "dan@example.com", Password: "dans passphrase"})
	b := e.browser()
	b.signIn("dan@example.com", "dans passphrase")
	if r := b.get("/account"); r.status != http.StatusOK {
		t.Fatalf("account: %d", r.status)
	}
	if r := e.admin("POST", "/admin/v1/users/dan@example.com/lock", nil); r.status != http.StatusOK {
		t.Fatalf("lock: %d %s", r.status, r.body)
	}
	if r := b.get("/account"); r.status != http.StatusSeeOther {
		t.Errorf("account after lock: %d, want redirect to sign-in", r.status)
	}
	if r := b.signIn("dan@example.com", "dans passphrase"); r.status != http.StatusUnauthorized {
		t.Errorf("sign-in while locked: %d", r.status)
	}
	if r := e.admin("POST", "/admin/v1/users/"+id.ID+"/unlock", nil); r.status != http.StatusOK {
		t.Fatalf("unlock: %d", r.status)
	}
	if r := b.signIn("dan@example.com", "dans passphrase"); r.status != http.StatusSeeOther {
		t.Errorf("sign-in after unlock: %d", r.status)
	}
}

func TestLegacyBcryptImportRehashesOnSignIn(t *testing.T) {
	e := newEnv(t)
	legacy, err := bcrypt.GenerateFromPassword([]byte("old system secret"), 4)
	if err != nil {
		t.Fatal(err)
	}
	lines := `{"email":"erin@example.com","name":"Erin","password_hash":"` + strings.Replace(string(legacy), "$2a$", "$2y$", 1) + `"}
{"email":"not-an-email","password_hash":"$2b$04$abc"}
{"email":"frank@example.com","password_hash":"pbkdf2_sha256$1000$salt$nothash"}
`
	r := e.admin("POST", "/admin/v1/users/import", lines)
	if r.status != http.StatusOK {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	mustContain(t, "import result", r.body, `"created": 1`)
	mustContain(t, "import result", r.body, `"line": 2`)
	mustContain(t, "import result", r.body, `"line": 3`)

	before, err := e.profiles.GetByEmail(t.Context(), "erin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := e.db.GetUser(t.Context(), before.ID)
	if !strings.HasPrefix(stored.PasswordHash, "$2y$") {
		t.Fatalf("stored hash before sign-in = %q", stored.PasswordHash)
	}
	if r := e.browser().signIn("erin@example.com", "wrong secret here"); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong password against bcrypt: %d", r.status)
	}
	if r := e.browser().signIn("erin@example.com", "old system secret"); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in with the legacy password: %d", r.status)
	}
	stored, _ = e.db.GetUser(t.Context(), before.ID)
	if !strings.HasPrefix(stored.PasswordHash, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("hash after sign-in = %q, want the current argon2id parameters", stored.PasswordHash)
	}
	if last := e.lastEvent("signin.succeeded"); last.Details["password_rehashed"] != "true" {
		t.Errorf("last sign-in event = %+v", last)
	}
	// The new hash still verifies, and the old one is gone for good.
	if r := e.browser().signIn("erin@example.com", "old system secret"); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in after rehash: %d", r.status)
	}
}

func TestRestartKeepsUsersAndSessions(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	if r := b.submit("/signup", "/signup", url.Values{"email": {"gina@example.com"}, "password": {"ginas passphrase"}}); r.status != http.StatusSeeOther {
		t.Fatalf("sign-up: %d", r.status)
	}
	e.restart()
	if r := b.get("/account"); r.status != http.StatusOK {
		t.Fatalf("session after restart: %d", r.status)
	}
	if r := e.browser().signIn("gina@example.com", "ginas passphrase"); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in after restart: %d", r.status)
	}
	if got := e.auditKinds(); !slices.Equal(got[:2], []string{"user.created", "signin.succeeded"}) || !slices.Contains(got[2:], "signin.succeeded") {
		t.Errorf("audit after restart = %v", got)
	}
}

func TestPersonalDataIsNotInTheFile(t *testing.T) {
	e := newEnv(t)
	const email, name = "hidden.person@example.org", "Zebulon Quixotic"
	if r := e.admin("POST", "/admin/v1/users", map[string]string{"email": email, "name": name, "password": "a fine passphrase"}); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	path := filepath.Join(e.dir, "assent.db")
	check := func(when string) {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{email, "hidden.person", name, "Zebulon"} {
			if bytes.Contains(raw, []byte(s)) {
				t.Errorf("%s: the database file contains %q in the clear", when, s)
			}
		}
	}
	e.stop()
	check("after create")
	e.start()
	if r := e.admin("DELETE", "/admin/v1/users/"+email, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := e.admin("GET", "/admin/v1/users/"+email, nil); r.status != http.StatusNotFound {
		t.Errorf("get after delete: %d", r.status)
	}
	e.stop()
	check("after erasure")
}

func TestCSRFAndCrossOrigin(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.get("/signup") // gets a CSRF cookie
	r := b.post("/signup", url.Values{"email": {"ivan@example.com"}, "password": {"ivans passphrase"}, "csrf": {"forged"}})
	if r.status != http.StatusForbidden {
		t.Errorf("forged CSRF token: %d", r.status)
	}
	req, _ := http.NewRequest("POST", e.ts.URL+"/signup", strings.NewReader("email=ivan%40example.com&password=ivans+passphrase"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if r := b.do(req); r.status != http.StatusForbidden {
		t.Errorf("cross-site POST: %d", r.status)
	}
	if us, _ := e.db.ListUsers(t.Context(), "", 10); len(us) != 0 {
		t.Errorf("a user was created by a forged request")
	}
}

func TestOpenRedirectRefused(t *testing.T) {
	e := newEnv(t)
	e.profiles.Create(t.Context(), profiles.NewUser{Email: "jo@example.com", Password: "jos passphrase"})
	for _, to := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "/account\r\nSet-Cookie: x=1"} {
		b := e.browser()
		r := b.submit("/signin?return_to="+url.QueryEscape(to), "/signin", url.Values{"email": {"jo@example.com"}, "password": {"jos passphrase"}, "return_to": {to}})
		if loc := r.header.Get("Location"); !strings.HasPrefix(loc, "/account") {
			t.Errorf("return_to %q redirected to %q", to, loc)
		}
	}
	b := e.browser()
	r := b.submit("/signin", "/signin", url.Values{"email": {"jo@example.com"}, "password": {"jos passphrase"}, "return_to": {"/account?tab=1"}})
	if loc := r.header.Get("Location"); loc != "/account?tab=1" {
		t.Errorf("local return_to redirected to %q", loc)
	}
}

func TestSecurityHeadersAndCookies(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	r := b.get("/signin")
	for k, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-store",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	csp := r.header.Get("Content-Security-Policy")
	for _, d := range []string{"frame-ancestors 'none'", "script-src 'self'", "default-src 'none'"} {
		mustContain(t, "CSP", csp, d)
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline code: %s", csp)
	}
	if strings.Contains(r.body, "<script>") || strings.Contains(r.body, "style=") {
		t.Error("page has inline script or style")
	}
	e.profiles.Create(t.Context(), profiles.NewUser{Email: "kim@example.com", Password: "kims passphrase"})
	r = b.signIn("kim@example.com", "kims passphrase")
	var found bool
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "assent_session" && c.Value != "" {
			found = true
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || len(c.Value) != 43 {
				t.Errorf("session cookie = %+v", c)
			}
		}
	}
	if !found {
		t.Error("no session cookie set")
	}
}

func TestHTTPSIssuerUsesHostCookies(t *testing.T) {
	e := newEnv(t)
	e.srv.secure = true
	w := &headerRecorder{h: http.Header{}}
	e.srv.setCookie(w, "assent_session", "v", time.Hour)
	c := (&http.Response{Header: w.h}).Cookies()[0]
	if c.Name != "__Host-assent_session" || !c.Secure || c.Path != "/" || c.Domain != "" {
		t.Errorf("cookie = %+v", c)
	}
}

type headerRecorder struct{ h http.Header }

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *headerRecorder) WriteHeader(int)             {}

func TestLanguageAndTheme(t *testing.T) {
	theme := t.TempDir()
	os.MkdirAll(filepath.Join(theme, "messages"), 0o755)
	os.MkdirAll(filepath.Join(theme, "static"), 0o755)
	os.WriteFile(filepath.Join(theme, "messages", "en.json"), []byte(`{"product.name": "Acme Bank"}`), 0o644)
	os.WriteFile(filepath.Join(theme, "static", "theme.css"), []byte(`:root { --accent: #c00; }`), 0o644)
	e := newEnv(t, func(c *Config) { c.ThemeDir = theme })
	b := e.browser()
	r := b.get("/signin", "Accept-Language", "fi-FI, en;q=0.5")
	mustContain(t, "Finnish page", r.body, `<html lang="fi">`)
	mustContain(t, "Finnish page", r.body, "Kirjaudu sisään")
	r = b.get("/signin", "Accept-Language", "de, en;q=0.8")
	mustContain(t, "English page", r.body, "Acme Bank")
	mustContain(t, "English page", r.body, "Sign in")
	if r := b.get("/static/theme.css"); !strings.Contains(r.body, "#c00") {
		t.Errorf("theme.css not overridden: %q", r.body)
	}
	if r := b.get("/static/logo.svg"); r.status != http.StatusOK || !strings.Contains(r.body, "<svg") {
		t.Errorf("embedded logo not served: %d", r.status)
	}
	if r := b.get("/static/"); r.status != http.StatusNotFound {
		t.Errorf("static directory listing: %d", r.status)
	}
}

func TestBadThemeTemplateRefused(t *testing.T) {
	theme := t.TempDir()
	os.MkdirAll(filepath.Join(theme, "templates"), 0o755)
	os.WriteFile(filepath.Join(theme, "templates", "signin.html"), []byte(`{{define "content"}}{{.Nope`), 0o644)
	if _, err := loadTheme(theme); err == nil || !strings.Contains(err.Error(), "signin") {
		t.Errorf("loadTheme with a broken template: %v", err)
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	if r := b.get("/healthz"); r.status != 200 {
		t.Errorf("healthz: %d", r.status)
	}
	if r := b.get("/readyz"); r.status != 200 {
		t.Errorf("readyz: %d", r.status)
	}
	b.signIn("nobody@example.com", "whatever password")
	r := b.get("/metrics")
	mustContain(t, "metrics", r.body, `assent_http_requests_total{code="401",route="POST /signin"} 1`)
	mustContain(t, "metrics", r.body, `assent_signins_total{outcome="unknown_user"} 1`)
	e.db.Close()
	e.db = nil
	if r := b.get("/readyz"); r.status != http.StatusServiceUnavailable {
		t.Errorf("readyz with a closed store: %d", r.status)
	}
}
