package authserver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/webhook"
)

const hookSecret = "webhook-secret-0123456789abcdefghij"

// hookReceiver is a downstream endpoint that verifies every request and
// fails the first failFirst of them.
type hookReceiver struct {
	mu        sync.Mutex
	calls     int
	failFirst int
	got       []hookEvent
	seen      map[string]int
	bad       int
}

type hookEvent struct {
	ID   string         `json:"id"`
	Type string         `json:"type"`
	Data map[string]any `json:"data"`
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := webhook.Verify(hookSecret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
		h.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	h.calls++
	if h.calls <= h.failFirst {
		http.Error(w, "try later", http.StatusInternalServerError)
		return
	}
	var ev hookEvent
	json.Unmarshal(body, &ev)
	if ev.ID != r.Header.Get(webhook.HeaderID) {
		h.bad++
	}
	h.seen[ev.ID]++
	h.got = append(h.got, ev)
}

func (h *hookReceiver) events() []hookEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookEvent(nil), h.got...)
}

func (h *hookReceiver) waitFor(t *testing.T, n int) []hookEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if evs := h.events(); len(evs) >= n {
			return evs
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("receiver got %d events, want %d", len(h.events()), n)
	return nil
}

// TestWebhooksInOrderAcrossRestart: a receiver that fails twice then
// succeeds gets every event exactly once, in order, with a server restart
// in between; payloads carry only what the user consented to.
func TestWebhooksInOrderAcrossRestart(t *testing.T) {
	t.Parallel()
	recv := &hookReceiver{failFirst: 2, seen: map[string]int{}}
	rs := httptest.NewServer(recv)
	t.Cleanup(rs.Close)
	e := &env{t: t, dir: t.TempDir(), clock: newClock(), master: newEnvMaster(), schema: testProfileSchema(t),
		hooks: []webhook.Endpoint{{ID: "crm", URL: rs.URL, Secret: hookSecret, Purposes: []string{"marketing_email"}}}}
	e.start()
	b := e.browser()
	b.signUp("ada@example.com", password)
	ada, _ := e.profiles.GetByEmail(t.Context(), "ada@example.com")
	r := b.submit("/account/profile", "/account/profile", url.Values{"attr.given_name": {"Ada"}, "attr.phone": {"+358401234567"}})
	wantRedirect(t, "profile", r, "/account/profile?done=saved")
	b.submit("/account/profile", "/account/consents", url.Values{"consent.marketing_email": {"yes"}})

	// Restart while the receiver is failing or has just recovered; one
	// more event after the restart.
	deadline := time.Now().Add(10 * time.Second)
	for {
		recv.mu.Lock()
		calls := recv.calls
		recv.mu.Unlock()
		if calls >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.restart()
	b = e.browser()
	b.signIn("ada@example.com", password)
	b.submit("/account/profile", "/account/profile", url.Values{"attr.given_name": {"Ada"}, "attr.phone": {"+358501234567"}})

	evs := recv.waitFor(t, 3)
	time.Sleep(100 * time.Millisecond) // a duplicate would arrive by now
	evs = recv.events()
	if len(evs) != 3 {
		t.Fatalf("receiver got %d events, want 3: %+v", len(evs), evs)
	}
	for id, n := range recv.seen {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
	if recv.bad != 0 {
		t.Errorf("%d requests failed verification", recv.bad)
	}
	wantTypes := []string{"profile.updated", "consent.changed", "profile.updated"}
	for i, ev := range evs {
		if ev.Type != wantTypes[i] || ev.Data["user_id"] != ada.ID {
			t.Errorf("event %d = %+v, want %s about %s", i, ev, wantTypes[i], ada.ID)
		}
		if i > 0 && ev.ID <= evs[i-1].ID && len(ev.ID) == len(evs[i-1].ID) {
			t.Errorf("event %s after %s: out of order", ev.ID, evs[i-1].ID)
		}
	}
	// Before consent: no e-mail, no attributes. After: the e-mail and the
	// attribute for that purpose, never the one that needs no consent.
	if _, ok := evs[0].Data["email"]; ok || evs[0].Data["attributes"] != nil {
		t.Errorf("payload before consent = %v", evs[0].Data)
	}
	attrs, _ := evs[2].Data["attributes"].(map[string]any)
	if evs[1].Data["email"] != "ada@example.com" || attrs["phone"] != "+358501234567" || attrs["given_name"] != nil {
		t.Errorf("payloads after consent = %v / %v", evs[1].Data, evs[2].Data)
	}

	// The delivery log in the admin API.
	r = e.admin("GET", "/admin/v1/webhooks/crm/deliveries", nil)
	var dl struct {
		Deliveries []struct {
			Seq         uint64    `json:"seq"`
			Attempts    int       `json:"attempts"`
			DeliveredAt time.Time `json:"delivered_at"`
			Data        []byte    `json:"data"`
		} `json:"deliveries"`
	}
	json.Unmarshal([]byte(r.body), &dl)
	if len(dl.Deliveries) != 3 || dl.Deliveries[0].Attempts != 3 || dl.Deliveries[0].DeliveredAt.IsZero() || dl.Deliveries[0].Data != nil {
		t.Errorf("deliveries = %s", r.body)
	}
	if r := e.admin("GET", "/admin/v1/webhooks", nil); !strings.Contains(r.body, `"pending": 0`) || strings.Contains(r.body, hookSecret) {
		t.Errorf("webhooks = %s", r.body)
	}
	if r := e.admin("GET", "/admin/v1/webhooks/nope/deliveries", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown endpoint: %d", r.status)
	}

	// Erasure is passed on, under the id the receiver knows.
	b.submit("/account/profile", "/account/delete", url.Values{"confirm": {"ada@example.com"}})
	evs = recv.waitFor(t, 4)
	if evs[3].Type != "user.erased" || evs[3].Data["user_id"] != ada.ID {
		t.Errorf("erasure event = %+v", evs[3])
	}
}

func TestWebhookVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"crm-1"}`)
	h := http.Header{}
	h.Set(webhook.HeaderID, "crm-1")
	h.Set(webhook.HeaderTimestamp, "1800000000")
	h.Set(webhook.HeaderSignature, "v1="+webhook.Sign(hookSecret, "crm-1", "1800000000", body))
	if err := webhook.Verify(hookSecret, h, body, now, time.Minute); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := webhook.Verify(hookSecret, h, []byte(`{"id":"crm-2"}`), now, time.Minute); err != webhook.ErrBadSignature {
		t.Errorf("changed body: %v", err)
	}
	if err := webhook.Verify("another secret, 32 characters long", h, body, now, time.Minute); err != webhook.ErrBadSignature {
		t.Errorf("wrong secret: %v", err)
	}
	if err := webhook.Verify(hookSecret, h, body, now.Add(10*time.Minute), time.Minute); err != webhook.ErrStale {
		t.Errorf("replayed later: %v", err)
	}
	h.Set(webhook.HeaderID, "crm-2")
	if err := webhook.Verify(hookSecret, h, body, now, time.Minute); err != webhook.ErrBadSignature {
		t.Errorf("changed id: %v", err)
	}
}
