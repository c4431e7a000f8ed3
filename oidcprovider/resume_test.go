package oidcprovider

import (
	"bytes"
	"errors"
	"github.com/assent-auth/assent/acr"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/store/bolt"
)

func newTestProvider(t *testing.T, now *time.Time) *Provider {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "assent.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, err := profiles.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	issuer, _ := url.Parse("https://id.example")
	p, err := New(t.Context(), Config{
		Issuer: issuer, Store: db, Keys: keys,
		Profiles: profiles.New(profiles.Config{Store: db, Keys: keys}),
		Now:      func() time.Time { return *now },
		Clients: []ClientConfig{{ID: "web", Secret: strings.Repeat("s", 32), RedirectURIs: []string{"https://rp.example/cb"},
			FirstParty: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestResume(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	uint0, uint60 := uint(0), uint(60)
	pwd := []string{"pwd"}
	mfa := []string{"pwd", "otp", "mfa"}
	tests := []struct {
		name string
		req  authRequest
		// authAge is how long before the request the session signed in;
		// negative: after being sent to sign in.
		authAge time.Duration
		amr     []string
		noAuth  bool
		want    Outcome
		wantErr string
		wantACR string
	}{
		{name: "no session", noAuth: true, want: SignIn},
		{name: "no session, prompt none", req: authRequest{PromptNone: true}, noAuth: true, want: Failed, wantErr: "login_required"},
		{name: "session", authAge: time.Hour, amr: pwd, want: Completed, wantACR: "1"},
		{name: "session reaches preference", req: authRequest{Preferred: acr.MFA}, authAge: time.Hour, amr: mfa, want: Completed, wantACR: "mfa"},
		{name: "below preference", req: authRequest{Preferred: acr.MFA}, authAge: time.Hour, amr: pwd, want: SignIn},
		{name: "below preference after fresh sign-in", req: authRequest{Preferred: acr.MFA}, authAge: -time.Second, amr: pwd, want: Completed, wantACR: "1"},
		{name: "below requirement", req: authRequest{Required: acr.MFA}, authAge: time.Hour, amr: pwd, want: SignIn},
		{name: "below requirement, prompt none", req: authRequest{Required: acr.MFA, PromptNone: true}, authAge: time.Hour, amr: pwd, want: Failed, wantErr: "login_required"},
		{name: "below requirement after fresh sign-in", req: authRequest{Required: acr.MFA}, authAge: -time.Second, amr: pwd, want: Failed, wantErr: "unmet_authentication_requirements"},
		{name: "above requirement", req: authRequest{Required: acr.MFA}, authAge: time.Hour, amr: []string{"hwk", "user"}, want: Completed, wantACR: "phrh"},
		{name: "unmeetable", req: authRequest{Unmeetable: true}, authAge: time.Hour, amr: mfa, want: Failed, wantErr: "unmet_authentication_requirements"},
		{name: "max_age passed", req: authRequest{MaxAge: &uint60}, authAge: 2 * time.Minute, amr: pwd, want: SignIn},
		{name: "max_age kept", req: authRequest{MaxAge: &uint60}, authAge: 30 * time.Second, amr: pwd, want: Completed, wantACR: "1"},
		{name: "max_age 0, old session", req: authRequest{MaxAge: &uint0}, authAge: time.Second, amr: pwd, want: SignIn},
		{name: "max_age 0, fresh sign-in", req: authRequest{MaxAge: &uint0}, authAge: -time.Second, amr: pwd, want: Completed, wantACR: "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := t0
			p := newTestProvider(t, &now)
			a := tc.req
			a.ID, a.CreatedAt, a.ClientID, a.RedirectURI, a.State = "req", t0, "web", "https://rp.example/cb", "st"
			if tc.authAge < 0 {
				a.SignInAt = t0
			}
			if err := p.putRequest(t.Context(), &a, true); err != nil {
				t.Fatal(err)
			}
			now = t0.Add(time.Second)
			var auth *Authentication
			if !tc.noAuth {
				auth = &Authentication{Subject: "u1", AuthTime: t0.Add(-tc.authAge), AMR: tc.amr}
			}
			d, err := p.Resume(t.Context(), "req", auth)
			if err != nil {
				t.Fatal(err)
			}
			if d.Outcome != tc.want || d.Error != tc.wantErr || d.ACR != tc.wantACR {
				t.Fatalf("Resume = %+v, want outcome %v, error %q, acr %q", d, tc.want, tc.wantErr, tc.wantACR)
			}
			switch d.Outcome {
			case Failed:
				u, _ := url.Parse(d.Target)
				if !strings.HasPrefix(d.Target, "https://rp.example/cb?") || u.Query().Get("error") != tc.wantErr || u.Query().Get("state") != "st" {
					t.Errorf("target = %s", d.Target)
				}
				if _, err := p.Resume(t.Context(), "req", auth); !errors.Is(err, ErrUnknownRequest) {
					t.Errorf("a failed request lives on: %v", err)
				}
			case Completed:
				if d.Target != "https://id.example/authorize/callback?id=req" {
					t.Errorf("target = %s", d.Target)
				}
			case SignIn:
				got, _ := p.request(t.Context(), "req")
				if !got.SignInAt.Equal(now) {
					t.Errorf("SignInAt = %v, want %v", got.SignInAt, now)
				}
			}
		})
	}
}

func TestResumeExpired(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := newTestProvider(t, &now)
	a := authRequest{ID: "req", CreatedAt: now, ClientID: "web", RedirectURI: "https://rp.example/cb"}
	if err := p.putRequest(t.Context(), &a, true); err != nil {
		t.Fatal(err)
	}
	now = now.Add(11 * time.Minute)
	if _, err := p.Resume(t.Context(), "req", nil); !errors.Is(err, ErrUnknownRequest) {
		t.Errorf("expired request: %v, want ErrUnknownRequest", err)
	}
	if _, err := p.Resume(t.Context(), "nope", nil); !errors.Is(err, ErrUnknownRequest) {
		t.Errorf("unknown request: %v, want ErrUnknownRequest", err)
	}
}
