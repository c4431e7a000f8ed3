package authserver

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/adminclient"
	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/deviceclient"
	"github.com/assent-auth/assent/store"
)

func getJSON[T any](t *testing.T, e *env, path string) T {
	t.Helper()
	var v T
	r := e.admin("GET", path, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, r.body)
	}
	return v
}

// TestAdminPendingPushAndApprovalStats asks for an approval in the app,
// sees it listed as waiting with its countdown, approves it three seconds
// later, then denies a second with "this wasn't me": the list empties,
// the decisions come back newest first with their latency and the report
// flagged, and the statistics count them.
func TestAdminPendingPushAndApprovalStats(t *testing.T) {
	e := newEnv(t)
	b, id := e.appUser("ada@example.com")
	conn := connectApp(t, id)

	if ov := getJSON[adminclient.PushOverview](t, e, "/admin/v1/push/pending"); len(ov.Pending) != 0 || len(ov.Recent) != 0 {
		t.Fatalf("before any request: %+v", ov)
	}
	// ask signs in with the password and chooses the app; it returns the
	// request as the device sees it and the number the browser shows.
	ask := func() (push.RequestView, int) {
		t.Helper()
		wantRedirect(t, "password", b.signIn("ada@example.com", "correct horse battery"), "/signin/factor")
		r := b.post("/signin/factor/push", url.Values{"csrf": {b.csrf()}})
		nm := pushNumberRE.FindStringSubmatch(r.body)
		if r.status != http.StatusOK || nm == nil {
			t.Fatalf("push: %d %s", r.status, truncate(r.body, 500))
		}
		n, _ := strconv.Atoi(nm[1])
		return *nextOfType(t, conn, push.MsgRequest).Request, n
	}
	req, number := ask()
	ov := getJSON[adminclient.PushOverview](t, e, "/admin/v1/push/pending")
	if len(ov.Pending) != 1 {
		t.Fatalf("pending = %+v", ov)
	}
	p := ov.Pending[0]
	if p.ID != req.ID || p.Email != "ada@example.com" || p.Kind != store.PushSignIn || p.ExpiresIn != 120 || p.IP == "" {
		t.Errorf("pending request = %+v", p)
	}

	e.clock.Advance(3 * time.Second)
	ov = getJSON[adminclient.PushOverview](t, e, "/admin/v1/push/pending")
	if len(ov.Pending) != 1 || ov.Pending[0].ExpiresIn != 117 {
		t.Errorf("countdown after 3 s: %+v", ov.Pending)
	}
	// The device approves with the browser's number.
	d, _ := id.Sign(req, deviceclient.Answer{Approve: true, Number: number})
	if err := conn.Send(d); err != nil {
		t.Fatal(err)
	}
	if res := nextOfType(t, conn, push.MsgResult); !res.OK {
		t.Fatalf("approval: %+v", res)
	}
	if r := b.post("/signin/factor/push/finish", url.Values{"csrf": {b.csrf()}}); r.status != http.StatusSeeOther {
		t.Fatalf("finish: %d", r.status)
	}
	b.signOut()

	req2, _ := ask()
	e.clock.Advance(time.Second)
	d, _ = id.Sign(req2, deviceclient.Answer{NotMe: true})
	if err := conn.Send(d); err != nil {
		t.Fatal(err)
	}
	if res := nextOfType(t, conn, push.MsgResult); !res.OK {
		t.Fatalf("denial: %+v", res)
	}

	ov = getJSON[adminclient.PushOverview](t, e, "/admin/v1/push/pending")
	if len(ov.Pending) != 0 || len(ov.Recent) != 2 {
		t.Fatalf("after the decisions: %+v", ov)
	}
	if r := ov.Recent[0]; r.RequestID != req2.ID || r.Status != "denied" || !r.NotMe || r.LatencyMs != 1000 || r.Email != "ada@example.com" {
		t.Errorf("newest decision = %+v", r)
	}
	if r := ov.Recent[1]; r.RequestID != req.ID || r.Status != "approved" || r.NotMe || r.LatencyMs != 3000 {
		t.Errorf("first decision = %+v", r)
	}

	st := getJSON[adminclient.Stats](t, e, "/admin/v1/stats")
	w := st.Windows[0]
	if w.PushRequests != 2 || w.Approvals != 1 || w.Denials != 1 || w.Reports != 1 {
		t.Errorf("push counts in the last minute = %+v", w)
	}
	if l := w.ApprovalLatency; l.Count != 1 || math.Abs(l.P50-3000) > 150 || math.Abs(l.P99-3000) > 150 {
		t.Errorf("approval latency = %+v, want 3000 ms within 5%%", l)
	}
	if st.ApprovalsPerMinute[59] != 1 || st.DenialsPerMinute[59] != 1 {
		t.Errorf("per minute: %v %v", st.ApprovalsPerMinute[50:], st.DenialsPerMinute[50:])
	}
	// The app's sign-in completed: its latency was measured.
	if l := w.SignInLatency; l.Count < 1 || l.P50 <= 0 {
		t.Errorf("sign-in latency = %+v", l)
	}
	// The push events reached the event stream as they happened.
	got := collect(t, e, 0, adminclient.EventFilter{Kinds: []string{"push."}}, 5, nil)
	if got[0].Kind != "push.created" || got[4].Kind != "push.reported" {
		t.Errorf("push events in the stream: %+v", got)
	}
}

// TestAdminSignOutAndSignIns signs a user in, lists the sign-in, signs the
// user out everywhere from the admin API (the browser's session ends) and
// checks bad input gets problem documents.
func TestAdminSignOutAndSignIns(t *testing.T) {
	e := newEnv(t)
	createUsers(t, e, 0, 1)
	b := e.browser()
	if r := b.signIn("u0@example.com", "a long enough passphrase"); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", r.status)
	}
	if r := b.get("/account"); r.status != http.StatusOK {
		t.Fatalf("account: %d", r.status)
	}
	list := getJSON[struct {
		SignIns []adminclient.SignIn `json:"sign_ins"`
	}](t, e, "/admin/v1/users/u0@example.com/signins?limit=5")
	if len(list.SignIns) != 1 || list.SignIns[0].IP != "127.0.0.1" || !list.SignIns[0].Time.Equal(e.clock.Now()) {
		t.Errorf("sign-ins = %+v", list.SignIns)
	}
	st := getJSON[adminclient.Stats](t, e, "/admin/v1/stats")
	if l := st.Windows[0].SignInLatency; l.Count != 1 || l.P50 <= 0 || l.P99 < l.P50 {
		t.Errorf("sign-in latency = %+v", l)
	}
	ev := e.lastEvent("signin.succeeded")
	if ms, err := strconv.ParseFloat(ev.Details["latency_ms"], 64); err != nil || ms <= 0 {
		t.Errorf("latency_ms on the event = %q", ev.Details["latency_ms"])
	}

	type sessions struct {
		Sessions []adminclient.Session `json:"sessions"`
	}
	ss := getJSON[sessions](t, e, "/admin/v1/users/u0@example.com/sessions")
	if len(ss.Sessions) != 1 || ss.Sessions[0].IP != "127.0.0.1" || len(ss.Sessions[0].AMR) == 0 || !ss.Sessions[0].ExpiresAt.After(e.clock.Now()) {
		t.Errorf("sessions = %+v", ss.Sessions)
	}
	if strings.Contains(e.admin("GET", "/admin/v1/users/u0@example.com/sessions", nil).body, "id_hash") {
		t.Error("the session's id hash left the server")
	}

	r := e.admin("POST", "/admin/v1/users/u0@example.com/signout", nil)
	var res adminclient.SignOutResult
	if err := json.Unmarshal([]byte(r.body), &res); err != nil || r.status != http.StatusOK || res.Sessions != 1 {
		t.Fatalf("sign out: %d %s", r.status, r.body)
	}
	if r := b.get("/account"); r.status == http.StatusOK {
		t.Error("the session survived signing out everywhere")
	}
	if ss := getJSON[sessions](t, e, "/admin/v1/users/u0@example.com/sessions"); len(ss.Sessions) != 0 {
		t.Errorf("sessions after signing out: %+v", ss.Sessions)
	}
	ev = e.lastEvent("user.signed_out_everywhere")
	if ev.Actor != "admin" || ev.Details["sessions"] != "1" || ev.Details["refresh_tokens"] != "0" {
		t.Errorf("audit = %+v", ev)
	}

	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/admin/v1/users/u0@example.com/signins?limit=0", http.StatusBadRequest},
		{"GET", "/admin/v1/users/u0@example.com/signins?limit=101", http.StatusBadRequest},
		{"GET", "/admin/v1/users/u0@example.com/signins?limit=x", http.StatusBadRequest},
		{"GET", "/admin/v1/users/nobody@example.com/signins", http.StatusNotFound},
		{"GET", "/admin/v1/users/nobody@example.com/sessions", http.StatusNotFound},
		{"POST", "/admin/v1/users/nobody@example.com/signout", http.StatusNotFound},
		{"POST", "/admin/v1/users/u_NOSUCHUSER/signout", http.StatusNotFound},
	} {
		r := e.admin(tc.method, tc.path, nil)
		var p Problem
		if r.status != tc.status || r.header.Get("Content-Type") != "application/problem+json" || json.Unmarshal([]byte(r.body), &p) != nil || p.Status != tc.status {
			t.Errorf("%s %s: %d %s %s", tc.method, tc.path, r.status, r.header.Get("Content-Type"), r.body)
		}
	}
	// Without the token nothing is said.
	for _, path := range []string{"/admin/v1/push/pending", "/admin/v1/users/u0@example.com/signins"} {
		resp, err := http.Get(e.ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d", path, resp.StatusCode)
		}
	}
}

func TestLatencyHistPercentiles(t *testing.T) {
	var h latencyHist
	if s := h.summary(); s != (adminclient.Latency{}) {
		t.Errorf("empty = %+v", s)
	}
	for i := 1; i <= 1000; i++ {
		h.add(float64(i))
	}
	s := h.summary()
	for _, c := range []struct{ got, want float64 }{{s.P50, 500}, {s.P90, 900}, {s.P99, 990}} {
		if math.Abs(c.got-c.want)/c.want > 0.05 {
			t.Errorf("percentile %v, want %v within 5%% (%+v)", c.got, c.want, s)
		}
	}
	// Outside the range: tiny values in the first bucket, huge ones in
	// the last, none lost.
	h.add(0)
	h.add(-1)
	h.add(1e12)
	if h.n != 1003 || h.counts[0] != 2 || h.counts[latencyBuckets-1] != 1 {
		t.Errorf("n %d first %d last %d", h.n, h.counts[0], h.counts[latencyBuckets-1])
	}
}

func TestPushWatchBounded(t *testing.T) {
	c := newClock()
	st := newEventStats(c.Now)
	for i := range pushMaxOpen + 500 {
		st.add(store.AuditEvent{Seq: uint64(i + 1), Time: c.Now(), Kind: "push.created", Subject: "u",
			Details: map[string]string{"request_id": fmt.Sprint("pr_", i)}})
	}
	if n := len(st.push.open); n != pushMaxOpen {
		t.Errorf("%d requests followed", n)
	}
	// Later, the old ones are forgotten to make room.
	c.Advance(pushForget + time.Minute)
	st.add(store.AuditEvent{Time: c.Now(), Kind: "push.created", Subject: "u", Details: map[string]string{"request_id": "pr_new"}})
	for i := range 30 {
		st.add(store.AuditEvent{Time: c.Now().Add(time.Duration(i) * time.Millisecond), Kind: "push.denied", Subject: "u",
			Details: map[string]string{"request_id": fmt.Sprint("pr_d", i)}})
	}
	open, recent := st.pushState()
	if len(open) != 1 || len(recent) != pushRecent || recent[0].RequestID != "pr_d29" || recent[pushRecent-1].RequestID != "pr_d10" {
		t.Errorf("open %d, recent %d: first %+v", len(open), len(recent), recent[0])
	}
	// Events without a request id are ignored.
	st.add(store.AuditEvent{Time: c.Now(), Kind: "push.approved", Subject: "u"})
	if _, recent := st.pushState(); recent[0].RequestID != "pr_d29" {
		t.Error("an approval without a request id was recorded")
	}
	// A fatigue lock is listed with the decisions.
	st.add(store.AuditEvent{Time: c.Now(), Kind: "push.locked", Subject: "u", Details: map[string]string{"request_id": "pr_d29"}})
	if _, recent := st.pushState(); recent[0].Status != "locked" || recent[0].UserID != "u" {
		t.Errorf("after a lock: %+v", recent[0])
	}
}

// BenchmarkStatsAdd feeds the statistics a mix of events with latencies,
// as every audit append does; BenchmarkStatsSnapshot is one GET
// /admin/v1/stats over a full hour.
func BenchmarkStatsAdd(b *testing.B) {
	c := newClock()
	st := newEventStats(c.Now)
	evs := []store.AuditEvent{
		{Kind: "risk.assessed", IP: "203.0.113.7", Details: map[string]string{"decision": "challenge", "reason_codes": "unknown_device new_country", "country": "FI"}},
		{Kind: "signin.succeeded", Details: map[string]string{"latency_ms": "48.2"}},
		{Kind: "push.created", Subject: "u", Details: map[string]string{"request_id": "pr_1"}},
		{Kind: "push.approved", Subject: "u", Details: map[string]string{"request_id": "pr_1"}},
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e := evs[i%len(evs)]
		e.Seq, e.Time = uint64(i+1), c.Now()
		st.add(e)
		i++
	}
}

func BenchmarkStatsSnapshot(b *testing.B) {
	c := newClock()
	st := newEventStats(c.Now)
	for m := range 60 {
		for i := range 200 {
			st.add(store.AuditEvent{Time: c.Now(), Kind: "risk.assessed", IP: fmt.Sprint("198.51.100.", i%50),
				Details: map[string]string{"decision": "allow", "reason_codes": "unknown_device", "country": "FI"}})
			st.add(store.AuditEvent{Time: c.Now(), Kind: "signin.succeeded", Details: map[string]string{"latency_ms": strconv.Itoa(40 + i%30)}})
		}
		if m < 59 {
			c.Advance(time.Minute)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		st.snapshot()
	}
}
