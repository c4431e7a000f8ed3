package authserver

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/store"
	"github.com/assent-auth/assent/store/bolt"
	"github.com/assent-auth/assent/webhook"
)

// testAdminToken is the admin token of every test server.
const testAdminToken = "test-admin-token-0123456789abcdef"

// clock is a settable clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one running server over a real bbolt file in dir.
type env struct {
	t        *testing.T
	dir      string
	db       *bolt.DB
	profiles *profiles.Service
	srv      *Server
	ts       *httptest.Server
	clock    *clock
	master   []byte
	// schema is the profile schema (none when nil).
	schema *profiles.Schema
	// hooks are webhook endpoints; their delivery loop runs (on the real
	// clock) while the server does.
	hooks    []webhook.Endpoint
	hookStop func()
}

// testParams keep argon2id cheap in tests that are not about hashing cost.
var testParams = profiles.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

type envOption func(*Config)

// newEnv starts a server on a fresh data directory.
func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), clock: newClock(), master: bytes.Repeat([]byte{7}, 32)}
	e.start(opts...)
	return e
}

func (e *env) start(opts ...envOption) {
	t := e.t
	t.Helper()
	db, err := bolt.Open(filepath.Join(e.dir, "assent.db"), bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := profiles.NewKeyring(e.master)
	if err != nil {
		t.Fatal(err)
	}
	e.db = db
	e.profiles = profiles.New(profiles.Config{Store: db, Keys: keys, Hasher: profiles.NewHasher(testParams), Now: e.clock.Now, Schema: e.schema})
	e.ts = httptest.NewUnstartedServer(nil)
	issuer, _ := url.Parse("http://" + e.ts.Listener.Addr().String())
	cfg := Config{
		Issuer:          issuer,
		Store:           db,
		Profiles:        e.profiles,
		Keys:            keys,
		Logger:          slog.New(slog.NewTextHandler(t.Output(), nil)),
		AdminToken:      []byte(testAdminToken),
		Now:             e.clock.Now,
		FailureDelay:    time.Millisecond,
		MaxFailureDelay: 5 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if len(e.hooks) > 0 {
		aead, err := keys.AEAD("webhook payloads v1")
		if err != nil {
			t.Fatal(err)
		}
		d := webhook.New(webhook.Config{Store: db, Endpoints: e.hooks, AEAD: aead, Logger: cfg.Logger,
			MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
		cfg.Webhooks = d
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); d.Run(ctx) }()
		e.hookStop = func() { cancel(); <-done }
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.ts.Config.Handler = srv
	e.ts.Start()
	t.Cleanup(e.stop)
}

// stop closes the server and the database; safe to call twice.
func (e *env) stop() {
	if e.ts != nil {
		e.ts.Close()
		e.ts = nil
	}
	if e.hookStop != nil {
		e.hookStop()
		e.hookStop = nil
	}
	if e.db != nil {
		if err := e.db.Close(); err != nil {
			e.t.Errorf("close db: %v", err)
		}
		e.db = nil
	}
}

// restart closes everything and opens the same data directory again on a
// new address.
func (e *env) restart() {
	e.stop()
	e.start()
}

// browser is a cookie-jar client that does not follow redirects, so tests
// see each answer.
type browser struct {
	t   *testing.T
	e   *env
	c   *http.Client
	jar *cookiejar.Jar
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, e: e, jar: jar, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) response {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(body)}
}

func (b *browser) get(path string, hdr ...string) response {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.e.ts.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// submit loads the page at path, takes its CSRF token, and posts form to
// action as the page's form would.
func (b *browser) submit(page, action string, form url.Values) response {
	b.t.Helper()
	r := b.get(page)
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		b.t.Fatalf("GET %s: no CSRF token in page (status %d)", page, r.status)
	}
	form.Set("csrf", html.UnescapeString(m[1]))
	return b.post(action, form)
}

func (b *browser) post(action string, form url.Values) response {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.e.ts.URL+action, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.e.ts.URL)
	return b.do(req)
}

func (b *browser) signIn(email, password string) response {
	b.t.Helper()
	return b.submit("/signin", "/signin", url.Values{"email": {email}, "password": {password}})
}

// admin calls the admin API with the test token.
func (e *env) admin(method, path string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	case []byte:
		rd = bytes.NewReader(v)
	default:
		b, _ := json.Marshal(v)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.ts.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

// auditKinds returns the kinds of all audit events in order.
func (e *env) auditEvents() []store.AuditEvent {
	e.t.Helper()
	evs, err := e.db.ListAudit(e.t.Context(), 0, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func (e *env) auditKinds() []string {
	var out []string
	for _, ev := range e.auditEvents() {
		out = append(out, ev.Kind)
	}
	return out
}

func mustContain(t *testing.T, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%s does not contain %q:\n%s", what, sub, truncate(s, 2000))
	}
}
