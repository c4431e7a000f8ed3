package authserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/assent-auth/assent/mail"
	"github.com/assent-auth/assent/mail/mailtest"
)

// newUpstreamMailPair is newUpstreamPair whose downstream server mails
// through a real SMTP server on loopback and offers passkeys.
func newUpstreamMailPair(t *testing.T) (*upstreamPair, *mailEnv) {
	t.Helper()
	m := &mailEnv{smtp: mailtest.NewServer(t, mailtest.Options{TLS: mail.TLSStartTLS, Username: "assent", Password: "smtp-secret"})}
	sender, err := mail.NewSMTPSender(m.smtp.Config())
	if err != nil {
		t.Fatal(err)
	}
	up := newEnv(t)
	down := &env{t: t, dir: t.TempDir(), clock: newClock(), master: newEnvMaster()}
	down.start(withPasskeys, func(c *Config) {
		cb := strings.TrimSuffix(c.Issuer.String(), "/") + "/signin/upstream/acme/callback"
		r := up.admin("POST", "/admin/v1/clients", map[string]any{"id": "downstream", "redirect_uris": []string{cb}, "first_party": true})
		var cl struct {
			Secret string `json:"secret"`
		}
		if r.status != http.StatusCreated || json.Unmarshal([]byte(r.body), &cl) != nil || cl.Secret == "" {
			t.Fatalf("register downstream at upstream: %d %s", r.status, r.body)
		}
		c.Upstreams = []UpstreamConfig{{ID: "acme", Name: "Acme ID", Issuer: up.ts.URL, ClientID: "downstream", ClientSecret: cl.Secret}}
		aead, err := c.Keys.AEAD("mail outbox v1")
		if err != nil {
			t.Fatal(err)
		}
		m.outbox, err = mail.New(mail.Config{Store: c.Store, AEAD: aead, Sender: sender, From: "Assent <no-reply@example.com>",
			Logger: c.Logger, Poll: 20 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		c.Mail = m.outbox
	})
	m.env = down
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.outbox.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done }) // runs before the server's cleanup
	return &upstreamPair{up: up, down: down, upB: up.browser(), downB: down.browser()}, m
}

var unlinkRE = regexp.MustCompile(`action="/security/links/([A-Za-z0-9_-]+)/unlink"`)

// TestUpstreamUnlink: the security page lists the linked upstream account
// and unlinks it, but never the last way in, only after a fresh sign-in,
// only with the CSRF token; the unlink is audited and mailed, and the
// upstream account no longer signs the user in.
func TestUpstreamUnlink(t *testing.T) {
	t.Parallel()
	p, m := newUpstreamMailPair(t)
	if r := p.up.admin("POST", "/admin/v1/users", map[string]any{"email": "ada@example.com", "name": "Ada", "password": password}); r.status != http.StatusCreated {
		t.Fatalf("upstream user: %d %s", r.status, r.body)
	}
	p.upB.signIn("ada@example.com", password)
	_, r := p.continueWith(t)
	wantRedirect(t, "upstream sign-up", r, "/account")
	ada, err := p.down.profiles.GetByEmail(t.Context(), "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}

	page := p.downB.get("/security").body
	mustContain(t, "security page", page, "Linked accounts")
	mustContain(t, "security page", page, "Acme ID")
	mustContain(t, "security page", page, "Linked "+p.down.clock.Now().Format("2006-01-02"))
	mm := unlinkRE.FindStringSubmatch(page)
	if mm == nil {
		t.Fatalf("no unlink button on:\n%s", page)
	}
	action := "/security/links/" + mm[1] + "/unlink"
	links := func() int {
		ls, err := p.down.profiles.Links(t.Context(), ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(ls)
	}

	// No password, no passkey: the link is the only way in.
	r = p.downB.submit("/security", action, url.Values{})
	if r.status != http.StatusConflict || links() != 1 {
		t.Fatalf("unlinking the last way in: %d, %d links", r.status, links())
	}
	mustContain(t, "refusal", r.body, "only way to sign in")
	if ev := p.down.lastEvent("upstream.unlink_denied"); ev.Details["reason"] != "last_way_in" || ev.Subject != ada.ID {
		t.Errorf("denial event = %+v", ev)
	}

	// With a passkey there is another way in, but the session is stale.
	key := newSoftKey(virtualwebauthn.AuthenticatorOptions{})
	wantRedirect(t, "add passkey", p.downB.addPasskey(key, "Laptop"), "/security?done=passkey_added")
	p.down.clock.Advance(freshAuth + time.Minute)
	if r := p.downB.submit("/security", action, url.Values{}); r.status != http.StatusForbidden || links() != 1 {
		t.Fatalf("unlink in a stale session: %d, %d links", r.status, links())
	} else {
		mustContain(t, "stale refusal", r.body, "sign in again")
	}
	if ev := p.down.lastEvent("upstream.unlink_denied"); ev.Details["reason"] != "needs_fresh_sign_in" {
		t.Errorf("denial event = %+v", ev)
	}

	// A fresh sign-in; without the CSRF token nothing happens.
	p.downB.signOut()
	wantSignedIn(t, "passkey sign-in", p.downB.passkeySignIn(key))
	if r := p.downB.post(action, url.Values{}); r.status != http.StatusForbidden || links() != 1 {
		t.Fatalf("unlink without CSRF: %d, %d links", r.status, links())
	}
	wantRedirect(t, "unlink", p.downB.submit("/security", action, url.Values{}), "/security?done=unlinked")
	if links() != 0 {
		t.Fatalf("%d links after unlinking", links())
	}
	mustContain(t, "security page", p.downB.get("/security?done=unlinked").body, "Unlinked.")
	if ev := p.down.lastEvent("upstream.unlinked"); ev.Actor != ada.ID || ev.Details["provider"] != "acme" || ev.Details["by"] != "user" {
		t.Errorf("unlink event = %+v", ev)
	}
	msg := m.waitMailWhere(1, func(r received) bool { return isNotice(r) && strings.Contains(r.subject, "linked account") })
	if msg.to != "ada@example.com" || msg.subject != "A linked account was removed from your account" {
		t.Errorf("notice = %q to %q", msg.subject, msg.to)
	}
	mustContain(t, "notice", msg.text, "unlinked from your account")
	if ev := p.down.lastEvent("security.notice"); ev.Details["notice"] != noticeLinkGone {
		t.Errorf("notice event = %+v", ev)
	}
	// Unlinked is unlinked: the same link again is not found, and the
	// upstream account no longer signs Ada in (it asks to link anew).
	if r := p.downB.submit("/security", action, url.Values{}); r.status != http.StatusNotFound {
		t.Errorf("second unlink: %d", r.status)
	}
	p.downB.signOut()
	if _, r := p.continueWith(t); r.status != http.StatusOK || !strings.Contains(r.body, "exists already") {
		t.Errorf("upstream sign-in after unlinking: %d", r.status)
	}
}

// TestAdminUpstreamLinks: the admin API lists a user's links and removes
// them; the last way in only with force.
func TestAdminUpstreamLinks(t *testing.T) {
	t.Parallel()
	p, m := newUpstreamMailPair(t)
	e := p.down
	ctx := t.Context()
	type linkList struct {
		UserID string          `json:"user_id"`
		Links  []linkedAccount `json:"links"`
	}
	list := func(user string) linkList {
		t.Helper()
		r := e.admin("GET", "/admin/v1/users/"+user+"/links", nil)
		var l linkList
		if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &l) != nil {
			t.Fatalf("list links: %d %s", r.status, r.body)
		}
		return l
	}
	for _, u := range []map[string]any{{"email": "bob@example.com", "password": password}, {"email": "eve@example.com"}} {
		if r := e.admin("POST", "/admin/v1/users", u); r.status != http.StatusCreated {
			t.Fatalf("user: %d %s", r.status, r.body)
		}
	}
	bob, _ := e.profiles.GetByEmail(ctx, "bob@example.com")
	eve, _ := e.profiles.GetByEmail(ctx, "eve@example.com")
	if err := e.profiles.Link(ctx, bob.ID, "acme", p.up.ts.URL, "bob-subject", false); err != nil {
		t.Fatal(err)
	}
	if err := e.profiles.Link(ctx, eve.ID, "acme", p.up.ts.URL, "eve-subject", false); err != nil {
		t.Fatal(err)
	}
	l := list("bob@example.com")
	if l.UserID != bob.ID || len(l.Links) != 1 || l.Links[0].Name != "Acme ID" || l.Links[0].Provider != "acme" || l.Links[0].ID == "" {
		t.Fatalf("links = %+v", l)
	}
	if strings.Contains(l.Links[0].ID, "bob-subject") {
		t.Errorf("link id reveals the upstream subject: %s", l.Links[0].ID)
	}
	if r := e.admin("DELETE", "/admin/v1/users/bob@example.com/links/bogus", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown link: %d %s", r.status, r.body)
	}
	// Eve's link under Bob's name is not Bob's.
	eveLink := list("eve@example.com").Links[0].ID
	if r := e.admin("DELETE", "/admin/v1/users/bob@example.com/links/"+eveLink, nil); r.status != http.StatusNotFound {
		t.Errorf("another user's link: %d", r.status)
	}
	if r := e.admin("DELETE", "/admin/v1/users/bob@example.com/links/"+l.Links[0].ID, nil); r.status != http.StatusOK {
		t.Fatalf("unlink: %d %s", r.status, r.body)
	}
	if ev := e.lastEvent("upstream.unlinked"); ev.Actor != "admin" || ev.Subject != bob.ID || ev.Details["by"] != "admin" {
		t.Errorf("unlink event = %+v", ev)
	}
	if n := len(list("bob@example.com").Links); n != 0 {
		t.Errorf("%d links after unlinking", n)
	}
	m.waitMailWhere(1, func(r received) bool {
		return r.to == "bob@example.com" && strings.Contains(r.subject, "linked account")
	})

	// Eve has no password and no passkey: only with force.
	r := e.admin("DELETE", "/admin/v1/users/eve@example.com/links/"+eveLink, nil)
	if r.status != http.StatusConflict || !strings.Contains(r.header.Get("Content-Type"), "problem+json") {
		t.Fatalf("unlink the last way in: %d %s", r.status, r.body)
	}
	if r := e.admin("DELETE", "/admin/v1/users/eve@example.com/links/"+eveLink+"?force=maybe", nil); r.status != http.StatusBadRequest {
		t.Errorf("bad force: %d", r.status)
	}
	if n := len(list("eve@example.com").Links); n != 1 {
		t.Fatalf("%d links after refusals, want 1", n)
	}
	if r := e.admin("DELETE", "/admin/v1/users/eve@example.com/links/"+eveLink+"?force=true", nil); r.status != http.StatusOK {
		t.Fatalf("forced unlink: %d %s", r.status, r.body)
	}
	if ev := e.lastEvent("upstream.unlinked"); ev.Subject != eve.ID || ev.Details["forced"] != "true" {
		t.Errorf("forced unlink event = %+v", ev)
	}
	if r := e.admin("GET", "/admin/v1/users/nobody@example.com/links", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown user: %d", r.status)
	}
}
