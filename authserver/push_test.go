package authserver

import (
	"bufio"
	"context"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/deviceclient"
	"github.com/assent-auth/assent/store"
)

var (
	enrollCodeRE = regexp.MustCompile(`<code class="enroll-code">([^<]+)</code>`)
	pushNumberRE = regexp.MustCompile(`class="push-number"[^>]*><strong>(\d+)</strong>`)
	pushWaitRE   = regexp.MustCompile(`data-push-wait="([^"]+)"`)
)

// enrollApp gets an enrollment code on the security page and redeems it
// with the reference device client.
func (b *browser) enrollApp(ctx context.Context) *deviceclient.Identity {
	b.t.Helper()
	r := b.submit("/security", "/security/app-devices", url.Values{})
	m := enrollCodeRE.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		b.t.Fatalf("enrollment page: %d %s", r.status, truncate(r.body, 500))
	}
	mustContain(b.t, "enrollment page", r.body, `src="data:image/png;base64,`)
	id, err := deviceclient.Activate(ctx, nil, b.e.ts.URL, html.UnescapeString(m[1]), "Test phone", "cli")
	if err != nil {
		b.t.Fatalf("activate: %v", err)
	}
	if _, err := deviceclient.Activate(ctx, nil, b.e.ts.URL, html.UnescapeString(m[1]), "Second phone", "cli"); err == nil {
		b.t.Fatal("an enrollment code worked twice")
	}
	return id
}

// TestPushSignInEndToEnd signs in with a password, chooses the app on the
// second-factor page, receives the request over a real websocket in the
// device client, approves it with the right number, and finishes the
// browser's sign-in with amr pwd swk mca mfa.
func TestPushSignInEndToEnd(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	id := b.enrollApp(ctx)

	// The identity is kept in a file only its owner can read.
	path := filepath.Join(t.TempDir(), "device.json")
	if err := id.Save(path); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("device file mode: %v %v", st.Mode(), err)
	}
	id, err := deviceclient.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	sec := b.get("/security")
	mustContain(t, "security page", sec.body, "Test phone")
	b.signOut()

	wantRedirect(t, "password", b.signIn("ada@example.com", "correct horse battery"), "/signin/factor")
	mustContain(t, "factor page", b.get("/signin/factor").body, `action="/signin/factor/push"`)

	conn := connectApp(t, id)

	wait := b.post("/signin/factor/push", url.Values{"csrf": {b.csrf()}})
	nm := pushNumberRE.FindStringSubmatch(wait.body)
	rm := pushWaitRE.FindStringSubmatch(wait.body)
	if wait.status != http.StatusOK || nm == nil || rm == nil {
		t.Fatalf("waiting page: %d %s", wait.status, truncate(wait.body, 800))
	}
	number, _ := strconv.Atoi(nm[1])
	reqID := rm[1]

	// The waiting page's event stream, opened before the decision.
	states := make(chan string, 4)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/signin/factor/push/events?id="+reqID, nil)
		resp, err := b.c.Do(req)
		if err != nil {
			close(states)
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				states <- v
			}
		}
		close(states)
	}()
	if s := <-states; s != "pending" {
		t.Fatalf("first state %q, want pending", s)
	}

	m := nextOfType(t, conn, push.MsgRequest)
	req := *m.Request
	if req.ID != reqID || !slices.Contains(req.Choices, number) || req.Kind != store.PushSignIn {
		t.Fatalf("request %+v, browser shows %d", req, number)
	}
	// A wrong pick is refused and changes nothing.
	wrong := req.Choices[0]
	if wrong == number {
		wrong = req.Choices[1]
	}
	d, _ := id.Sign(req, deviceclient.Answer{Approve: true, Number: wrong})
	if err := conn.Send(d); err != nil {
		t.Fatal(err)
	}
	if res := nextOfType(t, conn, push.MsgResult); res.OK || res.Reason != "wrong_number" {
		t.Fatalf("wrong number: %+v", res)
	}
	// Oversized and malformed frames are refused; the channel survives a
	// malformed one.
	if err := conn.SendRaw([]byte(`{"type":"decision","decision":{}}`)); err != nil {
		t.Fatal(err)
	}
	if res := nextOfType(t, conn, push.MsgResult); res.OK || res.Reason != "malformed" {
		t.Fatalf("malformed frame: %+v", res)
	}
	// Finishing before the approval keeps the browser waiting.
	if r := b.post("/signin/factor/push/finish", url.Values{"csrf": {b.csrf()}}); r.status != http.StatusAccepted {
		t.Fatalf("finish while pending: %d", r.status)
	}

	d, _ = id.Sign(req, deviceclient.Answer{Approve: true, Number: number})
	if err := conn.Send(d); err != nil {
		t.Fatal(err)
	}
	if res := nextOfType(t, conn, push.MsgResult); !res.OK || res.Status != store.PushApproved {
		t.Fatalf("approval: %+v", res)
	}
	select {
	case s := <-states:
		if s != store.PushApproved {
			t.Fatalf("event stream state %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting page heard nothing")
	}

	wantRedirect(t, "approved", b.post("/signin/factor/push/finish", url.Values{"csrf": {b.csrf()}}), "/account")
	ev := e.lastEvent("signin.succeeded")
	if ev.Details["amr"] != "pwd swk mca mfa" || ev.Details["second_factor"] != "app" {
		t.Errorf("signin.succeeded = %+v", ev.Details)
	}
	if r := b.get("/account"); r.status != http.StatusOK {
		t.Fatalf("account: %d", r.status)
	}
	if e.lastEvent("push.approved").Subject == "" {
		t.Error("approval not audited")
	}
}

// TestPushResentOnReconnect drops the device's channel while a request is
// pending; the request comes again when the device reconnects.
func TestPushResentOnReconnect(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	b, id := e.appUser("ada@example.com")
	b.signIn("ada@example.com", "correct horse battery")
	wait := b.post("/signin/factor/push", url.Values{"csrf": {b.csrf()}})
	rm := pushWaitRE.FindStringSubmatch(wait.body)
	if rm == nil {
		t.Fatalf("waiting page: %d", wait.status)
	}
	for range 2 {
		conn, err := id.Connect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m := nextOfType(t, conn, push.MsgRequest); m.Request.ID != rm[1] {
			t.Fatalf("resent %s, want %s", m.Request.ID, rm[1])
		}
		conn.Close()
	}
	// Denied with "this wasn't me": the browser is refused, the report
	// reaches the risk history.
	conn, _ := id.Connect(ctx)
	defer conn.Close()
	m := nextOfType(t, conn, push.MsgRequest)
	d, _ := id.Sign(*m.Request, deviceclient.Answer{NotMe: true})
	conn.Send(d)
	if res := nextOfType(t, conn, push.MsgResult); !res.OK || res.Status != store.PushDenied {
		t.Fatalf("deny: %+v", res)
	}
	if r := b.post("/signin/factor/push/finish", url.Values{"csrf": {b.csrf()}}); r.status != http.StatusUnauthorized {
		t.Fatalf("finish after denial: %d", r.status)
	}
	users, _ := e.db.ListUsers(ctx, "", 10)
	if last, _ := e.db.LastReport(ctx, users[0].ID); last.IsZero() {
		t.Error("the report did not reach the risk history")
	}
}

// TestPushConnectRefusesBadHello checks that a channel whose hello is
// signed by the wrong key is refused and audited.
func TestPushConnectRefusesBadHello(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	_, _, forged := b.forgedDevice(ctx)
	if _, err := forged.Connect(ctx); err == nil {
		t.Fatal("a hello signed by another device's key was accepted")
	}
	if ev := e.lastEvent("push.connect_refused"); ev.Details["reason"] != "bad_signature" {
		t.Errorf("connect_refused = %+v", ev)
	}
}

func nextOfType(t *testing.T, c *deviceclient.Conn, typ string) push.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		if m.Type == typ {
			return m
		}
	}
}

// TestPushRateLimit refuses an eleventh request to the same user within
// the window, and audits it.
func TestPushRateLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PushTTL = 30 * time.Second })
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	b.enrollApp(t.Context())
	b.signOut()
	for i := range 10 { // the default limit: 10 within 15 minutes
		b.signIn("ada@example.com", "correct horse battery")
		if r := b.post("/signin/factor/push", url.Values{"csrf": {b.csrf()}}); r.status != http.StatusOK {
			t.Fatalf("request %d: %d", i, r.status)
		}
		e.clock.Advance(31 * time.Second) // the previous one expires
	}
	b.signIn("ada@example.com", "correct horse battery")
	if r := b.post("/signin/factor/push", url.Values{"csrf": {b.csrf()}}); r.status != http.StatusTooManyRequests {
		t.Fatalf("request over the limit: %d", r.status)
	}
	if ev := e.lastEvent("push.refused"); ev.Details["reason"] != "rate_limited" {
		t.Errorf("push.refused = %+v", ev)
	}
}
