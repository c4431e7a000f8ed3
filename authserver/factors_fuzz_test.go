package authserver

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/assent-auth/assent/devices"
	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/store/bolt"
)

// fuzzServer is a server with passkeys on, over a bbolt file without fsync,
// for driving handlers in-process.
func fuzzServer(f *testing.F) (*Server, *profiles.Service) {
	db, err := bolt.Open(filepath.Join(f.TempDir(), "assent.db"), bolt.Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	keys, _ := profiles.NewKeyring(bytes.Repeat([]byte{5}, 32))
	ps := profiles.New(profiles.Config{Store: db, Keys: keys, Hasher: profiles.NewHasher(testParams)})
	issuer, _ := url.Parse("https://login.test")
	cfg := Config{Issuer: issuer, Store: db, Profiles: ps, Keys: keys, Logger: slog.New(slog.DiscardHandler),
		AdminToken: []byte(testAdminToken), FailureDelay: time.Microsecond, MaxFailureDelay: time.Microsecond}
	withPasskeys(&cfg)
	s, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	return s, ps
}

// fuzzClient drives a Server in-process with a fixed CSRF cookie and a
// fresh client address per call, so the per-network throttle stays out of
// the way.
type fuzzClient struct {
	s    *Server
	csrf string
	n    int
}

func (c *fuzzClient) do(method, path, contentType, body string, extra ...*http.Cookie) *httptest.ResponseRecorder {
	c.n++
	req := httptest.NewRequest(method, "https://login.test"+path, strings.NewReader(body))
	req.RemoteAddr = fmt.Sprintf("10.%d.%d.1:4000", (c.n>>8)&255, c.n&255)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Origin", "https://login.test")
	req.Header.Set("X-CSRF-Token", c.csrf)
	req.AddCookie(&http.Cookie{Name: "__Host-assent_csrf", Value: c.csrf})
	for _, ck := range extra {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	c.s.ServeHTTP(rec, req)
	return rec
}

// ceremony asks for sign-in options and returns them with the ceremony
// cookie.
func (c *fuzzClient) ceremony(t testing.TB) (string, *http.Cookie) {
	rec := c.do("POST", "/passkeys/options", "application/json", `{"purpose":"signin"}`)
	if rec.Code != 200 {
		t.Fatalf("options: %d %s", rec.Code, rec.Body)
	}
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == "__Host-"+ceremonyCookie {
			return rec.Body.String(), ck
		}
	}
	t.Fatal("no ceremony cookie")
	return "", nil
}

func noSession(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == "__Host-assent_session" && ck.Value != "" {
			t.Fatal("a session cookie was set")
		}
	}
}

// FuzzPasskeySignInEndpoint posts arbitrary credential JSON (with its
// base64url and CBOR inside) to the passkey sign-in endpoint under a valid
// ceremony: it must be refused as a client error, never start a session,
// and never fail inside.
func FuzzPasskeySignInEndpoint(f *testing.F) {
	s, ps := fuzzServer(f)
	ident, err := ps.Create(f.Context(), profiles.NewUser{Email: "ada@example.com", Password: "correct horse battery"})
	if err != nil {
		f.Fatal(err)
	}
	k := newSoftKey(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(ident.ID)})
	opts, cer, err := s.devices.BeginRegistration(f.Context(), devices.PasskeyUser{ID: ident.ID, Name: ident.Email})
	if err != nil {
		f.Fatal(err)
	}
	ao, _ := virtualwebauthn.ParseAttestationOptions(string(opts))
	if _, err := s.devices.FinishRegistration(f.Context(), cer, ident.ID, []byte(virtualwebauthn.CreateAttestationResponse(testRP, k.auth, k.cred, *ao)), "key"); err != nil {
		f.Fatal(err)
	}
	c := &fuzzClient{s: s, csrf: strings.Repeat("c", 43)}
	options, _ := c.ceremony(f)
	k.cred.Counter++
	aso, _ := virtualwebauthn.ParseAssertionOptions(options)
	f.Add(virtualwebauthn.CreateAssertionResponse(testRP, k.auth, k.cred, *aso))
	f.Add(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AA","signature":"AA"}}`)
	f.Add("")
	f.Add("\xff")

	f.Fuzz(func(t *testing.T, credential string) {
		_, ck := c.ceremony(t)
		form := url.Values{"csrf": {c.csrf}, "credential": {credential}}.Encode()
		rec := c.do("POST", "/signin/passkey", "application/x-www-form-urlencoded", form, ck)
		if rec.Code != http.StatusUnauthorized && rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d", rec.Code)
		}
		noSession(t, rec)
	})
}

// FuzzPasskeyOptionsEndpoint posts arbitrary bodies to the options
// endpoint: every answer is a success or a client error, never a failure
// inside.
func FuzzPasskeyOptionsEndpoint(f *testing.F) {
	s, _ := fuzzServer(f)
	c := &fuzzClient{s: s, csrf: strings.Repeat("c", 43)}
	for _, seed := range []string{`{"purpose":"signin"}`, `{"purpose":"conditional"}`, `{"purpose":"register"}`, `{"purpose":"second_factor"}`, `{}`, `[]`, `{"purpose":1}`, "\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rec := c.do("POST", "/passkeys/options", "application/json", body)
		if rec.Code >= 500 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}
