package authserver

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/deviceclient"
	"github.com/assent-auth/assent/store"
)

// flowCookie returns the browser's value of the named flow cookie, or "".
func (b *browser) flowCookie(name string) string {
	u, _ := url.Parse(b.e.ts.URL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == b.e.srv.cookieName(name) {
			return c.Value
		}
	}
	return ""
}

// setFlowCookie puts a flow cookie back into the browser, as an attacker
// with a copy of an old one would.
func (b *browser) setFlowCookie(name, value string) {
	u, _ := url.Parse(b.e.ts.URL)
	b.jar.SetCookies(u, []*http.Cookie{{Name: b.e.srv.cookieName(name), Value: value, Path: "/"}})
}

// approvePush starts the app step of the pending sign-in and approves it on
// the device; it returns the request id.
func (b *browser) approvePush(conn *deviceclient.Conn, id *deviceclient.Identity) string {
	b.t.Helper()
	wait := b.post("/signin/factor/push", url.Values{"csrf": {b.csrf()}})
	nm := pushNumberRE.FindStringSubmatch(wait.body)
	rm := pushWaitRE.FindStringSubmatch(wait.body)
	if wait.status != http.StatusOK || nm == nil || rm == nil {
		b.t.Fatalf("waiting page: %d %s", wait.status, truncate(wait.body, 800))
	}
	number, _ := strconv.Atoi(nm[1])
	m := nextOfType(b.t, conn, push.MsgRequest)
	if m.Request.ID != rm[1] {
		b.t.Fatalf("device got %s, browser waits for %s", m.Request.ID, rm[1])
	}
	d, err := id.Sign(*m.Request, deviceclient.Answer{Approve: true, Number: number})
	if err != nil {
		b.t.Fatal(err)
	}
	if err := conn.Send(d); err != nil {
		b.t.Fatal(err)
	}
	if res := nextOfType(b.t, conn, push.MsgResult); !res.OK || res.Status != store.PushApproved {
		b.t.Fatalf("approval: %+v", res)
	}
	return rm[1]
}

func (e *env) countEvents(kind string) int {
	n := 0
	for _, ev := range e.auditEvents() {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

// TestPushApprovalNotReplayable approves a sign-in in the app and finishes
// it, keeps a copy of the browser's approval cookie, signs out, signs in
// again with the password only and posts the old cookie to the finish
// endpoint: the second factor is not skipped, no session is made, and the
// approval is marked used in the store.
func TestPushApprovalNotReplayable(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	b, id := e.appUser("ada@example.com")
	conn := connectApp(t, id)

	wantRedirect(t, "password", b.signIn("ada@example.com", "correct horse battery"), "/signin/factor")
	reqID := b.approvePush(conn, id)
	old, csrf := b.flowCookie(pushCookie), b.csrf()
	if old == "" {
		t.Fatal("no approval cookie")
	}
	wantRedirect(t, "approved", b.post("/signin/factor/push/finish", url.Values{"csrf": {b.csrf()}}), "/account")
	users, _ := e.db.ListUsers(ctx, "", 10)
	req, err := e.db.GetPushRequest(ctx, users[0].ID, reqID)
	if err != nil || req.Status != store.PushApproved || req.ConsumedAt.IsZero() {
		t.Fatalf("after finishing: %+v %v, want approved and consumed", req, err)
	}
	if _, err := e.srv.push.Consume(ctx, users[0].ID, reqID); !errors.Is(err, push.ErrConsumed) {
		t.Errorf("second consume: %v, want ErrConsumed", err)
	}
	b.signOut()
	signIns := e.countEvents("signin.succeeded")

	wantRedirect(t, "password again", b.signIn("ada@example.com", "correct horse battery"), "/signin/factor")
	if b.csrf() != csrf {
		t.Fatal("the CSRF cookie changed: the replay would not test the same browser")
	}
	b.setFlowCookie(pushCookie, old)
	if r := b.post("/signin/factor/push/finish", url.Values{"csrf": {b.csrf()}}); r.status != http.StatusUnauthorized {
		t.Fatalf("replayed approval: %d %q", r.status, r.header.Get("Location"))
	}
	if r := b.get("/account"); r.status == http.StatusOK {
		t.Fatal("the replayed approval made a session")
	}
	if n := e.countEvents("signin.succeeded"); n != signIns {
		t.Fatalf("signin.succeeded %d times after the replay, want %d", n, signIns)
	}
}

// TestPushApprovalBoundToPendingSignIn approves a request but leaves it
// unfinished, then starts a new sign-in in the same browser: the approval of
// the first sign-in does not complete the second.
func TestPushApprovalBoundToPendingSignIn(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	b, id := e.appUser("ada@example.com")
	conn := connectApp(t, id)

	wantRedirect(t, "password", b.signIn("ada@example.com", "correct horse battery"), "/signin/factor")
	reqID := b.approvePush(conn, id)
	old := b.flowCookie(pushCookie)
	wantRedirect(t, "password again", b.signIn("ada@example.com", "correct horse battery"), "/signin/factor")
	b.setFlowCookie(pushCookie, old)
	if r := b.post("/signin/factor/push/finish", url.Values{"csrf": {b.csrf()}}); r.status != http.StatusUnauthorized {
		t.Fatalf("approval of an earlier sign-in: %d %q", r.status, r.header.Get("Location"))
	}
	if r := b.get("/account"); r.status == http.StatusOK {
		t.Fatal("an earlier sign-in's approval made a session")
	}
	users, _ := e.db.ListUsers(ctx, "", 10)
	if req, _ := e.db.GetPushRequest(ctx, users[0].ID, reqID); !req.ConsumedAt.IsZero() {
		t.Error("a refused finish consumed the approval")
	}
	// The new sign-in still completes with its own approval.
	b.approvePush(conn, id)
	wantRedirect(t, "own approval", b.post("/signin/factor/push/finish", url.Values{"csrf": {b.csrf()}}), "/account")
}

// TestCheckoutPushApprovalNotReplayable approves a payment in the app and
// finishes it, then posts the old approval cookie again: the approval is
// spent in the store and the replay approves nothing. An approval started in
// one session does not finish the payment in the next one.
func TestCheckoutPushApprovalNotReplayable(t *testing.T) {
	e := newEnv(t, noTRA(t), withClients(
		oidcprovider.ClientConfig{ID: "web", Secret: rpSecret, RedirectURIs: []string{rpCallback}, FirstParty: true}))
	ctx := t.Context()
	b := e.browser()
	b.signUp("ada@example.com", password)
	key := b.enrollTOTP()
	device := b.enrollApp(ctx)
	e.clock.Advance(3 * time.Hour)
	b.signOut()
	conn := connectApp(t, device)
	p := e.rp("web")
	pkce := oauth2.S256ChallengeOption(oauth2.GenerateVerifier())
	want := checkoutDetails("120.00", "Acme Shop")
	checkout := func(state string) string {
		return p.cfg.AuthCodeURL(state, pkce, oauth2.SetAuthURLParam("acr_values", "mfa"),
			oauth2.SetAuthURLParam("authorization_details", paymentDetails("120.00", "EUR", "Acme Shop")))
	}
	// approveInApp opens the payment page of a new request, asks the app
	// and approves there; it returns the request id.
	approveInApp := func(state string) string {
		t.Helper()
		u, r := b.authorize(checkout(state))
		if u.Path == "/signin" {
			r = b.signInMFA(u, key)
			u, r = b.authorize(e.ts.URL + r.header.Get("Location"))
		}
		if r.status != http.StatusOK || u.Path != "/oidc/resume" {
			t.Fatalf("ended at %v (%d), want the payment page", u, r.status)
		}
		id := u.Query().Get("id")
		r = b.post("/oidc/payment", url.Values{"csrf": {b.csrf()}, "id": {id}, "details": {want}, "decision": {"app"}})
		m := pushNumberRE.FindStringSubmatch(r.body)
		if r.status != http.StatusOK || m == nil {
			t.Fatalf("app request: %d %s", r.status, truncate(r.body, 500))
		}
		number, _ := strconv.Atoi(m[1])
		msg := nextOfType(t, conn, push.MsgRequest)
		d, err := device.Sign(*msg.Request, deviceclient.Answer{Approve: true, Number: number})
		if err != nil {
			t.Fatal(err)
		}
		conn.Send(d)
		if res := nextOfType(t, conn, push.MsgResult); !res.OK {
			t.Fatalf("decision refused: %+v", res)
		}
		return id
	}
	paid := func() int {
		n := 0
		for _, ev := range e.auditEvents() {
			if ev.Kind == "oidc.payment" && ev.Outcome == "ok" {
				n++
			}
		}
		return n
	}
	finish := func(id string) response {
		return b.post("/oidc/payment", url.Values{"csrf": {b.csrf()}, "id": {id}, "details": {want}, "decision": {"app_finish"}})
	}

	id := approveInApp("s1")
	old := b.flowCookie(checkoutPushCookie)
	if old == "" {
		t.Fatal("no approval cookie")
	}
	if r := finish(id); r.status != http.StatusSeeOther {
		t.Fatalf("finish: %d %s", r.status, truncate(r.body, 500))
	}
	users, _ := e.db.ListUsers(ctx, "", 10)
	rs, _ := e.db.ListPushRequests(ctx, users[0].ID)
	if len(rs) == 0 || rs[len(rs)-1].Kind != store.PushPayment || rs[len(rs)-1].ConsumedAt.IsZero() {
		t.Fatalf("after finishing: %+v, want the payment approval consumed", rs)
	}
	before := paid()
	b.setFlowCookie(checkoutPushCookie, old)
	if r := finish(id); r.status == http.StatusSeeOther {
		t.Fatalf("replayed approval: %d %q", r.status, r.header.Get("Location"))
	}
	if paid() != before {
		t.Fatal("the replayed approval approved a payment")
	}

	// Approved in one session, not finished; the next session cannot use it.
	id = approveInApp("s2")
	old = b.flowCookie(checkoutPushCookie)
	b.signOut()
	u, _ := b.authorize(checkout("s3"))
	r := b.signInMFA(u, key)
	b.authorize(e.ts.URL + r.header.Get("Location"))
	b.setFlowCookie(checkoutPushCookie, old)
	if r := finish(id); r.status == http.StatusSeeOther && strings.Contains(r.header.Get("Location"), "code=") {
		t.Fatalf("another session's approval: %d %q", r.status, r.header.Get("Location"))
	}
	if paid() != before {
		t.Fatal("another session's approval approved a payment")
	}
}
