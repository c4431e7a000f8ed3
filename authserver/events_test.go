package authserver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/adminclient"
	"github.com/assent-auth/assent/store"
)

// collect streams events from e until want events arrived or the timeout
// passes, and returns them.
func collect(t *testing.T, e *env, after uint64, f adminclient.EventFilter, want int, during func()) []adminclient.AuditEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cl := adminclient.New(e.ts.URL, testAdminToken)
	var got []adminclient.AuditEvent
	opened := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- cl.Events(ctx, after, f, func(it adminclient.StreamItem) error {
			switch it.Type {
			case "open":
				close(opened)
			case "audit":
				got = append(got, it.Event)
				if len(got) == want {
					return errDone
				}
			}
			return nil
		})
	}()
	select {
	case <-opened:
	case err := <-errc:
		t.Fatalf("stream: %v", err)
	}
	if during != nil {
		during()
	}
	if err := <-errc; !errors.Is(err, errDone) {
		t.Fatalf("stream ended with %v after %d of %d events", err, len(got), want)
	}
	return got
}

var errDone = errors.New("done")

func createUsers(t *testing.T, e *env, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		r := e.admin("POST", "/admin/v1/users", map[string]any{"email": fmt.Sprintf("u%d@example.com", i), "password": "a long enough passphrase"})
		if r.status != http.StatusCreated {
			t.Fatalf("create user %d: %d %s", i, r.status, r.body)
		}
	}
}

func TestEventStreamResumesWithoutGaps(t *testing.T) {
	e := newEnv(t)
	createUsers(t, e, 0, 5)
	stored := e.auditEvents()
	if len(stored) != 5 {
		t.Fatalf("stored %d events, want 5", len(stored))
	}
	// A console that saw up to the second event reconnects: it gets the
	// three stored after it, then the live ones, each exactly once.
	got := collect(t, e, stored[1].Seq, adminclient.EventFilter{}, 3+4, func() {
		createUsers(t, e, 5, 4)
	})
	for i, ev := range got {
		if want := stored[1].Seq + uint64(i) + 1; ev.Seq != want {
			t.Fatalf("event %d has seq %d, want %d (all: %+v)", i, ev.Seq, want, got)
		}
		if ev.Kind != "user.created" || ev.Actor != "admin" {
			t.Errorf("event %d = %+v", i, ev)
		}
	}
}

func TestEventStreamConcurrentAppendsMissNothing(t *testing.T) {
	e := newEnv(t)
	const n = 60
	got := collect(t, e, 0, adminclient.EventFilter{}, n, func() {
		done := make(chan struct{})
		for w := range 6 {
			go func() {
				defer func() { done <- struct{}{} }()
				for i := range n / 6 {
					e.srv.audit(httptestRequest(), store.AuditEvent{Kind: "test.event", Subject: fmt.Sprint(w, "-", i), Outcome: "ok"})
				}
			}()
		}
		for range 6 {
			<-done
		}
	})
	for i, ev := range got {
		if ev.Seq != uint64(i)+1 {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
}

func httptestRequest() *http.Request {
	r, _ := http.NewRequest("GET", "http://localhost/", nil)
	r.RemoteAddr = "192.0.2.1:1234"
	return r
}

func TestEventStreamFilters(t *testing.T) {
	e := newEnv(t)
	createUsers(t, e, 0, 2)
	b := e.browser()
	if r := b.signIn("u1@example.com", "a long enough passphrase"); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", r.status)
	}
	b.signIn("u1@example.com", "wrong passphrase")
	var u1 string
	for _, ev := range e.auditEvents() {
		if ev.Kind == "user.created" {
			u1 = ev.Subject
		}
	}
	all := e.auditEvents()
	count := func(pred func(store.AuditEvent) bool) int {
		n := 0
		for _, ev := range all {
			if pred(ev) {
				n++
			}
		}
		return n
	}
	tests := []struct {
		name string
		f    adminclient.EventFilter
		pred func(store.AuditEvent) bool
	}{
		{"kind", adminclient.EventFilter{Kinds: []string{"risk.assessed"}}, func(ev store.AuditEvent) bool { return ev.Kind == "risk.assessed" }},
		{"kind prefix", adminclient.EventFilter{Kinds: []string{"signin."}}, func(ev store.AuditEvent) bool { return strings.HasPrefix(ev.Kind, "signin.") }},
		{"user by e-mail", adminclient.EventFilter{User: "u1@example.com"}, func(ev store.AuditEvent) bool { return ev.Subject == u1 || ev.Actor == u1 }},
		{"decision", adminclient.EventFilter{Decision: "challenge"}, func(ev store.AuditEvent) bool { return ev.Details["decision"] == "challenge" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := count(tt.pred)
			if want == 0 {
				t.Fatalf("no stored event matches; kinds: %v", e.auditKinds())
			}
			// One more matching event arrives live after the stored ones;
			// a user.created for u1 matches every filter but the decision.
			got := collect(t, e, 0, tt.f, want, nil)
			for _, ev := range got {
				if !tt.pred(store.AuditEvent{Kind: ev.Kind, Subject: ev.Subject, Actor: ev.Actor, Details: ev.Details}) {
					t.Errorf("filter let through %+v", ev)
				}
			}
		})
	}
	if r := e.admin("GET", "/admin/v1/events?after=x", nil); r.status != http.StatusBadRequest {
		t.Errorf("after=x: %d", r.status)
	}
}

func TestEventStreamDropsSlowConsumer(t *testing.T) {
	e := newEnv(t)
	e.srv.events.buffer = 2
	req, _ := http.NewRequestWithContext(t.Context(), "GET", e.ts.URL+"/admin/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, _ := br.ReadString('\n'); line != "retry: 2000\n" {
		t.Fatalf("first line %q", line)
	}
	// The client reads nothing more while far more is published than the
	// socket buffers hold: its subscription must be dropped, and
	// publishing must never block.
	big := map[string]string{"pad": strings.Repeat("x", 8<<10)}
	start := time.Now()
	for i := range 20000 {
		e.srv.events.publish(store.AuditEvent{Seq: uint64(i) + 1, Kind: "test.flood", Outcome: "ok", Details: big})
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("publishing took %v", d)
	}
	e.srv.events.mu.Lock()
	subs := len(e.srv.events.subs)
	e.srv.events.mu.Unlock()
	if subs != 0 {
		t.Fatalf("%d subscribers left; the slow one was not dropped", subs)
	}
	// Reading on, the client finds the stream's end and where to resume.
	var last string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			break
		}
		if strings.HasPrefix(line, "event: ") {
			last = line
		}
	}
	if last != "event: dropped\n" {
		t.Errorf("last event line %q, want the dropped notice", last)
	}
}

func TestStats(t *testing.T) {
	e := newEnv(t)
	createUsers(t, e, 0, 1)
	b := e.browser()
	for range 3 {
		b.signIn("u0@example.com", "a long enough passphrase")
	}
	b.signIn("u0@example.com", "wrong passphrase")
	e.clock.Advance(2 * time.Minute)
	b.signIn("u0@example.com", "a long enough passphrase")
	r := e.admin("GET", "/admin/v1/stats", nil)
	var st adminclient.Stats
	if err := json.Unmarshal([]byte(r.body), &st); err != nil || r.status != http.StatusOK {
		t.Fatalf("stats: %d %s", r.status, r.body)
	}
	if len(st.Windows) != 3 || st.Windows[0].Minutes != 1 || st.Windows[2].Minutes != 60 {
		t.Fatalf("windows = %+v", st.Windows)
	}
	if w := st.Windows[0]; w.SignIns != 1 || w.Assessments != 1 {
		t.Errorf("last minute = %+v, want 1 sign-in, 1 assessment", w)
	}
	if w := st.Windows[1]; w.SignIns != 4 || w.Assessments != 4 || w.Failures != 1 || w.ChallengeRate != 1 {
		t.Errorf("last 5 minutes = %+v, want 4 sign-ins and assessments (all challenged), 1 failure", w)
	}
	if len(st.SignInsPerMinute) != 60 || st.SignInsPerMinute[59] != 1 || st.SignInsPerMinute[57] != 3 {
		t.Errorf("sign-ins per minute = %v", st.SignInsPerMinute)
	}
	if len(st.TopIPs) != 1 || st.TopIPs[0].Count != 4 {
		t.Errorf("top IPs = %+v", st.TopIPs)
	}
	if len(st.TopReasons) == 0 {
		t.Errorf("no top reasons: %s", r.body)
	}
	// An hour later everything has slid out of the windows.
	e.clock.Advance(time.Hour)
	r = e.admin("GET", "/admin/v1/stats", nil)
	json.Unmarshal([]byte(r.body), &st)
	if st.Windows[2].Assessments != 0 || len(st.TopIPs) != 0 {
		t.Errorf("after an hour: %+v", st)
	}
}

func TestStatsBoundsKeys(t *testing.T) {
	c := newClock()
	st := newEventStats(c.Now)
	for i := range 5000 {
		st.add(store.AuditEvent{Seq: uint64(i + 1), Time: c.Now(), Kind: "risk.assessed", IP: fmt.Sprintf("198.51.%d.%d", i/256, i%256),
			Details: map[string]string{"decision": "deny", "reason_codes": "credential_stuffing"}})
	}
	b := st.buckets[c.Now().Unix()/60%statsMinutes]
	if len(b.ips) > statsMaxKeys+1 {
		t.Errorf("%d addresses kept", len(b.ips))
	}
	s := st.snapshot()
	if s.TopIPs[0] != (StatsCount{Key: "other", Count: 5000 - statsMaxKeys}) || s.Windows[0].Denies != 5000 || s.Windows[0].DenyRate != 1 {
		t.Errorf("snapshot = %+v", s)
	}
}

func TestCloseStreamsEndsStreamsForShutdown(t *testing.T) {
	e := newEnv(t)
	cl := adminclient.New(e.ts.URL, testAdminToken)
	opened := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- cl.Events(t.Context(), 0, adminclient.EventFilter{}, func(it adminclient.StreamItem) error {
			if it.Type == "open" {
				close(opened)
			}
			return nil
		})
	}()
	<-opened
	e.srv.CloseStreams()
	select {
	case err := <-errc:
		if !errors.Is(err, adminclient.ErrServerClosing) {
			t.Errorf("stream ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end")
	}
	err := cl.Events(t.Context(), 0, adminclient.EventFilter{}, func(adminclient.StreamItem) error { return nil })
	if !errors.Is(err, adminclient.ErrServerClosing) {
		t.Errorf("a stream opened while closing: %v", err)
	}
}
