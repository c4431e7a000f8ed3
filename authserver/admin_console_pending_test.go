package authserver

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/assent-auth/assent/adminclient"
	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/deviceclient"
)

// TestAdminPendingPushAfterRestart asks for an approval, restarts the
// server on the same bbolt file, and finds the request still listed as
// waiting, beside one asked for after the restart; the device's approval
// of the old one (on its resent copy) takes it off the list, and the
// new one leaves when it expires.
func TestAdminPendingPushAfterRestart(t *testing.T) {
	e := newEnv(t)
	b, id := e.appUser("ada@example.com")
	b2, _ := e.appUser("bea@example.com")

	ask := func(b *browser, email string) int {
		t.Helper()
		wantRedirect(t, "password", b.signIn(email, "correct horse battery"), "/signin/factor")
		r := b.post("/signin/factor/push", url.Values{"csrf": {b.csrf()}})
		nm := pushNumberRE.FindStringSubmatch(r.body)
		if r.status != http.StatusOK || nm == nil {
			t.Fatalf("push for %s: %d %s", email, r.status, truncate(r.body, 500))
		}
		n, _ := strconv.Atoi(nm[1])
		return n
	}
	number := ask(b, "ada@example.com")
	before := getJSON[adminclient.PushOverview](t, e, "/admin/v1/push/pending")
	if len(before.Pending) != 1 {
		t.Fatalf("pending before the restart = %+v", before)
	}
	old := before.Pending[0]

	e.clock.Advance(10 * time.Second)
	e.restart()
	ov := getJSON[adminclient.PushOverview](t, e, "/admin/v1/push/pending")
	if len(ov.Pending) != 1 {
		t.Fatalf("pending after the restart = %+v, want the request from before it", ov)
	}
	if p := ov.Pending[0]; p.ID != old.ID || p.Email != "ada@example.com" || p.RPName != old.RPName || p.IP != old.IP ||
		!p.CreatedAt.Equal(old.CreatedAt) || p.ExpiresIn != 110 {
		t.Errorf("pending after the restart = %+v, was %+v", p, old)
	}

	// A request asked for after the restart joins it, soonest to expire
	// last.
	e.clock.Advance(5 * time.Second)
	b2 = e.browser()
	ask(b2, "bea@example.com")
	ov = getJSON[adminclient.PushOverview](t, e, "/admin/v1/push/pending")
	if len(ov.Pending) != 2 || ov.Pending[0].ID != old.ID || ov.Pending[1].Email != "bea@example.com" || ov.Pending[1].ExpiresIn != 120 {
		t.Fatalf("pending with a new request = %+v", ov.Pending)
	}

	// The device reconnects to the new server, gets the waiting request
	// again and approves it: it leaves the list.
	id.Server = e.ts.URL
	conn := connectApp(t, id)
	req := *nextOfType(t, conn, push.MsgRequest).Request
	if req.ID != old.ID {
		t.Fatalf("resent request %s, want %s", req.ID, old.ID)
	}
	d, _ := id.Sign(req, deviceclient.Answer{Approve: true, Number: number})
	if err := conn.Send(d); err != nil {
		t.Fatal(err)
	}
	if res := nextOfType(t, conn, push.MsgResult); !res.OK {
		t.Fatalf("approval after the restart: %+v", res)
	}
	ov = getJSON[adminclient.PushOverview](t, e, "/admin/v1/push/pending")
	if len(ov.Pending) != 1 || ov.Pending[0].Email != "bea@example.com" {
		t.Fatalf("pending after the approval = %+v", ov.Pending)
	}
	if len(ov.Recent) != 1 || ov.Recent[0].RequestID != old.ID || ov.Recent[0].Status != "approved" || ov.Recent[0].LatencyMs != 15000 {
		t.Errorf("recent after the approval = %+v, want it approved 15 s after it was asked for", ov.Recent)
	}
	e.clock.Advance(120 * time.Second)
	if ov = getJSON[adminclient.PushOverview](t, e, "/admin/v1/push/pending"); len(ov.Pending) != 0 {
		t.Errorf("pending after expiry = %+v", ov.Pending)
	}

	// Once more: nothing waits, so a restart lists nothing.
	e.restart()
	if ov = getJSON[adminclient.PushOverview](t, e, "/admin/v1/push/pending"); len(ov.Pending) != 0 {
		t.Errorf("pending after a second restart = %+v", ov.Pending)
	}
}
