package tui

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/assent-auth/assent/adminclient"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fakeAPI answers from memory and records the actions.
type fakeAPI struct {
	mu      sync.Mutex
	actions []string
	users   map[string]adminclient.User
	factors []adminclient.Factor
	risk    []adminclient.RiskAssessment
}

func (f *fakeAPI) Events(ctx context.Context, after uint64, _ adminclient.EventFilter, fn func(adminclient.StreamItem) error) error {
	<-ctx.Done()
	return ctx.Err()
}
func (f *fakeAPI) Stats(context.Context) (adminclient.Stats, error) { return testStats(), nil }
func (f *fakeAPI) RiskPolicy(context.Context) (adminclient.RiskPolicy, error) {
	return adminclient.RiskPolicy{Version: "assent-default-1"}, nil
}
func (f *fakeAPI) GetUser(_ context.Context, u string) (adminclient.User, error) {
	if x, ok := f.users[u]; ok {
		return x, nil
	}
	return adminclient.User{}, &adminclient.Problem{Status: 404, Title: "Not Found"}
}
func (f *fakeAPI) ListFactors(context.Context, string) ([]adminclient.Factor, error) {
	return f.factors, nil
}
func (f *fakeAPI) UserRisk(context.Context, string, int) ([]adminclient.RiskAssessment, error) {
	return f.risk, nil
}
func (f *fakeAPI) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.actions = append(f.actions, s)
}
func (f *fakeAPI) LockUser(_ context.Context, u string) (adminclient.User, error) {
	f.record("lock " + u)
	return adminclient.User{}, nil
}
func (f *fakeAPI) UnlockUser(_ context.Context, u string) (adminclient.User, error) {
	f.record("unlock " + u)
	return adminclient.User{}, nil
}
func (f *fakeAPI) RemoveFactor(_ context.Context, u, id string) (adminclient.RemovedFactor, error) {
	f.record("remove " + u + " " + id)
	return adminclient.RemovedFactor{}, nil
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testUser() adminclient.User {
	return adminclient.User{ID: "u_ADA", Email: "ada@example.com", Name: "Ada", EmailVerified: true,
		LastSignIn: t0.Add(-time.Hour), CreatedAt: t0.Add(-48 * time.Hour)}
}

func newFake() *fakeAPI {
	return &fakeAPI{
		users: map[string]adminclient.User{"ada@example.com": testUser(), "u_ADA": testUser()},
		factors: []adminclient.Factor{
			{ID: "f_PASSKEY1", Kind: "passkey", Name: "YubiKey 5", CreatedAt: t0.Add(-24 * time.Hour)},
			{ID: "f_TOTP1", Kind: "totp", Name: "Authenticator", CreatedAt: t0.Add(-20 * time.Hour), Active: true},
		},
		risk: []adminclient.RiskAssessment{
			{Seq: 7, Time: t0.Add(-time.Hour), Event: "login", Score: 55, Decision: "challenge", IP: "203.0.113.7", Country: "FI",
				Reasons: []adminclient.RiskReason{{Code: "unknown_device", Weight: 30}, {Code: "new_country", Weight: 25}}},
		},
	}
}

func testStats() adminclient.Stats {
	per := make([]int, 60)
	for i := range per {
		per[i] = (i * 7) % 13
	}
	return adminclient.Stats{Time: t0, LastSeq: 99,
		Windows: []adminclient.StatsWindow{
			{Minutes: 1, SignIns: 12, Assessments: 14, Challenges: 3, Denies: 1, ChallengeRate: 3.0 / 14, DenyRate: 1.0 / 14},
			{Minutes: 5, SignIns: 50, Failures: 4, Assessments: 60, Challenges: 9, Denies: 2, ChallengeRate: 0.15, DenyRate: 2.0 / 60},
			{Minutes: 60, SignIns: 400, Failures: 31, Assessments: 480, Challenges: 40, Denies: 12, ChallengeRate: 40.0 / 480, DenyRate: 12.0 / 480},
		},
		AssessmentsPerMinute: per, SignInsPerMinute: per,
		TopReasons:   []adminclient.StatsCount{{Key: "unknown_device", Count: 120}, {Key: "new_country", Count: 33}, {Key: "credential_stuffing", Count: 12}},
		TopIPs:       []adminclient.StatsCount{{Key: "203.0.113.7", Count: 40}, {Key: "198.51.100.23", Count: 9}},
		TopCountries: []adminclient.StatsCount{{Key: "FI", Count: 300}, {Key: "SE", Count: 80}, {Key: "US", Count: 12}},
	}
}

func event(seq uint64, kind, user, ip, country, decision, score, codes string) adminclient.AuditEvent {
	e := adminclient.AuditEvent{Seq: seq, Time: t0.Add(time.Duration(seq) * time.Second), Kind: kind, Subject: user, IP: ip, Outcome: "ok",
		Details: map[string]string{}}
	if kind == "risk.assessed" {
		e.Actor = "system"
		e.Outcome = decision
		e.Details = map[string]string{"event": "login", "decision": decision, "score": score, "level": "medium", "country": country,
			"precision": "country", "policy_version": "assent-default-1", "reason_codes": codes}
		var rs []string
		for c := range strings.FieldsSeq(codes) {
			rs = append(rs, fmt.Sprintf(`{"code":%q,"weight":25,"detail":"%s detail"}`, c, c))
		}
		e.Details["reasons"] = "[" + strings.Join(rs, ",") + "]"
	}
	return e
}

func sampleEvents() []adminclient.StreamItem {
	evs := []adminclient.AuditEvent{
		event(1, "user.created", "u_ADA", "127.0.0.1", "", "", "", ""),
		event(2, "risk.assessed", "u_ADA", "203.0.113.7", "FI", "allow", "0", ""),
		event(3, "signin.succeeded", "u_ADA", "203.0.113.7", "", "", "", ""),
		event(4, "risk.assessed", "u_BOB", "198.51.100.23", "US", "challenge", "55", "unknown_device new_country"),
		event(5, "risk.assessed", "u_EVE", "192.0.2.66", "RU", "deny", "100", "unknown_device new_country impossible_travel"),
		event(6, "signin.failed", "u_EVE", "192.0.2.66", "", "", "", ""),
	}
	evs[5].Outcome = "failed"
	var out []adminclient.StreamItem
	for _, e := range evs {
		out = append(out, adminclient.StreamItem{Type: "audit", Seq: e.Seq, Event: e})
	}
	return out
}

func newTestModel(t *testing.T, api API) Model {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	m := New(t.Context(), Options{API: api, Server: "http://localhost:8080", Renderer: r, Location: time.UTC})
	m, _ = step(m, tea.WindowSizeMsg{Width: 80, Height: 24})
	return m
}

// step runs Update and keeps the concrete model.
func step(m Model, msg tea.Msg) (Model, tea.Cmd) {
	nm, cmd := m.Update(msg)
	return nm.(Model), cmd
}

func keys(m Model, ks ...string) Model {
	for _, k := range ks {
		var msg tea.KeyMsg
		switch k {
		case "enter":
			msg = tea.KeyMsg{Type: tea.KeyEnter}
		case "esc":
			msg = tea.KeyMsg{Type: tea.KeyEsc}
		case "tab":
			msg = tea.KeyMsg{Type: tea.KeyTab}
		case "down":
			msg = tea.KeyMsg{Type: tea.KeyDown}
		case "up":
			msg = tea.KeyMsg{Type: tea.KeyUp}
		default:
			msg = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
		}
		m, _ = step(m, msg)
	}
	return m
}

func typeText(m Model, s string) Model {
	for _, r := range s {
		m, _ = step(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
	return m
}

func live(t *testing.T) Model {
	m := newTestModel(t, newFake())
	m, _ = step(m, streamMsg{gen: m.gen, opened: true, items: sampleEvents()})
	return m
}

func TestStreamConnectsAndCounts(t *testing.T) {
	m := newTestModel(t, newFake())
	if m.conn != connConnecting {
		t.Fatalf("initial state %v", m.conn)
	}
	m, cmd := step(m, streamMsg{gen: m.gen, opened: true, items: sampleEvents()})
	if m.conn != connLive || m.received != 6 || m.lastSeq != 6 || cmd == nil {
		t.Fatalf("after events: conn %v received %d last %d cmd %v", m.conn, m.received, m.lastSeq, cmd)
	}
	if m.decisions["allow"] != 1 || m.decisions["challenge"] != 1 || m.decisions["deny"] != 1 {
		t.Errorf("decisions = %v", m.decisions)
	}
	// A resumed stream that repeats events does not count them twice.
	m, _ = step(m, streamMsg{gen: m.gen, items: sampleEvents()})
	if m.received != 6 || len(m.events) != 6 {
		t.Errorf("duplicates counted: %d %d", m.received, len(m.events))
	}
	// A heartbeat moves the resume point past filtered-out events.
	m, _ = step(m, streamMsg{gen: m.gen, items: []adminclient.StreamItem{{Type: "heartbeat", Seq: 40}}})
	if m.lastSeq != 40 {
		t.Errorf("last seq after heartbeat = %d", m.lastSeq)
	}
}

func TestReconnectState(t *testing.T) {
	m := live(t)
	gen := m.gen
	m, cmd := step(m, streamMsg{gen: gen, closed: true, err: errors.New("connection refused")})
	if m.conn != connOffline || m.attempt != 1 || m.gen != gen+1 || cmd == nil || !strings.Contains(m.lastErr, "refused") {
		t.Fatalf("after close: conn %v attempt %d gen %d err %q", m.conn, m.attempt, m.gen, m.lastErr)
	}
	if m.retryIn < 250*time.Millisecond || m.retryIn > 500*time.Millisecond {
		t.Errorf("first backoff %v", m.retryIn)
	}
	// Messages of the old connection are ignored.
	m2, cmd := step(m, streamMsg{gen: gen, items: sampleEvents()[:1]})
	if cmd != nil || m2.conn != connOffline {
		t.Errorf("stale stream message handled")
	}
	m, _ = step(m, streamMsg{gen: m.gen, closed: true, err: &adminclient.Problem{Status: 401, Title: "Unauthorized"}})
	if m.conn != connOffline || m.attempt != 2 || m.lastErr != "the server refused the admin token" {
		t.Errorf("after 401: %v %d %q", m.conn, m.attempt, m.lastErr)
	}
	if m, cmd = step(m, retryMsg{gen: m.gen - 1}); cmd != nil {
		t.Errorf("stale retry reconnects")
	}
	if m, cmd = step(m, retryMsg{gen: m.gen}); m.conn != connConnecting || cmd == nil {
		t.Errorf("retry: conn %v", m.conn)
	}
	m, _ = step(m, streamMsg{gen: m.gen, opened: true})
	if m.conn != connLive || m.attempt != 0 || m.lastErr != "" {
		t.Errorf("reconnected: %v %d %q", m.conn, m.attempt, m.lastErr)
	}
	for n, want := range map[int]time.Duration{1: 500 * time.Millisecond, 3: 2 * time.Second, 10: 15 * time.Second} {
		if d := backoff(n); d < want/2 || d > want {
			t.Errorf("backoff(%d) = %v, want in [%v, %v]", n, d, want/2, want)
		}
	}
}

func TestPause(t *testing.T) {
	m := keys(live(t), "p")
	if !m.paused {
		t.Fatal("p did not pause")
	}
	m, _ = step(m, streamMsg{gen: m.gen, items: []adminclient.StreamItem{{Type: "audit", Seq: 7, Event: event(7, "signout", "u_ADA", "", "", "", "", "")}}})
	if v := m.visible(); len(v) != 6 || v[0].Seq != 6 || m.held != 1 || m.received != 7 {
		t.Errorf("paused view moved: %d events, newest %d, held %d", len(v), v[0].Seq, m.held)
	}
	m = keys(m, "p")
	if v := m.visible(); m.paused || v[0].Seq != 7 {
		t.Errorf("resume: paused %v newest %d", m.paused, v[0].Seq)
	}
}

func TestFilterAndDetail(t *testing.T) {
	m := keys(live(t), "/")
	if !m.filtering {
		t.Fatal("/ did not start filtering")
	}
	m = typeText(m, "u_eve")
	// While typing, q is text, not quit.
	m, cmd := step(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("q")})
	if cmd != nil && cmd() == tea.Quit() {
		t.Fatal("q quit while filtering")
	}
	m = keys(m, "backspace")
	m, _ = step(m, tea.KeyMsg{Type: tea.KeyBackspace})
	m = keys(m, "enter")
	v := m.visible()
	if m.filtering || len(v) != 2 || v[0].Subject != "u_EVE" {
		t.Fatalf("filter %q: %d events %+v", m.filter.Value(), len(v), v)
	}
	m = keys(m, "down", "up", "down", "enter")
	if m.detail == nil || m.detail.Seq != 5 {
		t.Fatalf("detail = %+v", m.detail)
	}
	if rs := reasons(*m.detail); len(rs) != 3 || rs[2].Code != "impossible_travel" {
		t.Errorf("reasons = %+v", rs)
	}
	m = keys(m, "esc")
	if m.detail != nil {
		t.Error("esc did not close the detail")
	}
	m = keys(m, "esc")
	if len(m.visible()) != 6 {
		t.Error("esc did not clear the filter")
	}
}

func TestTabsHelpQuit(t *testing.T) {
	m := live(t)
	for _, want := range []tab{tabUsers, tabOverview, tabLive} {
		if m = keys(m, "tab"); m.tab != want {
			t.Fatalf("tab = %v, want %v", m.tab, want)
		}
	}
	if m = keys(m, "3"); m.tab != tabOverview {
		t.Errorf("3 -> %v", m.tab)
	}
	if m = keys(m, "?"); !m.help {
		t.Error("? shows no help")
	}
	if m = keys(m, "x"); m.help {
		t.Error("a key does not close help")
	}
	_, cmd := step(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("q")})
	if cmd == nil || cmd() != tea.Quit() {
		t.Error("q does not quit")
	}
	_, cmd = step(m, tea.KeyMsg{Type: tea.KeyCtrlC})
	if cmd == nil || cmd() != tea.Quit() {
		t.Error("ctrl+c does not quit")
	}
}

func TestUsersActionsNeedConfirmation(t *testing.T) {
	api := newFake()
	m := keys(newTestModel(t, api), "2", "/")
	m = typeText(m, "ada@example.com")
	m, cmd := step(m, tea.KeyMsg{Type: tea.KeyEnter})
	if cmd == nil {
		t.Fatal("enter does not look the user up")
	}
	m, _ = step(m, cmd())
	if m.user == nil || m.user.user.ID != "u_ADA" || len(m.user.factors) != 2 {
		t.Fatalf("user = %+v err %q", m.user, m.userErr)
	}
	m = keys(m, "l")
	if m.confirm == nil {
		t.Fatal("l asks no confirmation")
	}
	if m = keys(m, "n"); m.confirm != nil || m.notice != "cancelled" || len(api.actions) != 0 {
		t.Fatalf("n: confirm %v notice %q actions %v", m.confirm, m.notice, api.actions)
	}
	m = keys(m, "l")
	m, cmd = step(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("y")})
	m, cmd = step(m, cmd())
	if m.notice != "lock ada@example.com: done" || cmd == nil {
		t.Errorf("notice %q", m.notice)
	}
	m = keys(m, "down", "x")
	m, cmd = step(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("y")})
	m, _ = step(m, cmd())
	m = keys(m, "u")
	m, cmd = step(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("y")})
	cmd()
	if got := strings.Join(api.actions, "; "); got != "lock u_ADA; remove u_ADA f_TOTP1; unlock u_ADA" {
		t.Errorf("actions: %s", got)
	}
	// An unknown user is said so.
	m = keys(m, "/")
	m.search.SetValue("nobody@example.com")
	m, cmd = step(m, tea.KeyMsg{Type: tea.KeyEnter})
	m, _ = step(m, cmd())
	if m.user != nil || m.userErr != "no such user: nobody@example.com" {
		t.Errorf("unknown user: %q", m.userErr)
	}
}

// TestBurstStaysBounded streams 50,000 events: the model keeps at most
// maxEvents of them and every count is exact.
func TestBurstStaysBounded(t *testing.T) {
	m := newTestModel(t, newFake())
	decisions := []string{"allow", "challenge", "deny", "allow", "allow"}
	var batch []adminclient.StreamItem
	for i := range 50000 {
		e := event(uint64(i+1), "risk.assessed", "u_X", "192.0.2.1", "FI", decisions[i%5], "10", "")
		batch = append(batch, adminclient.StreamItem{Type: "audit", Seq: e.Seq, Event: e})
		if len(batch) == maxBatch {
			m, _ = step(m, streamMsg{gen: m.gen, items: batch})
			batch = nil
		}
	}
	m, _ = step(m, streamMsg{gen: m.gen, items: batch})
	if len(m.events) != maxEvents || cap(m.events) > 2*maxEvents || m.received != 50000 {
		t.Errorf("kept %d (cap %d), received %d", len(m.events), cap(m.events), m.received)
	}
	if m.decisions["allow"] != 30000 || m.decisions["challenge"] != 10000 || m.decisions["deny"] != 10000 {
		t.Errorf("decisions = %v", m.decisions)
	}
	if m.events[len(m.events)-1].Seq != 50000 {
		t.Errorf("newest = %d", m.events[len(m.events)-1].Seq)
	}
}

func TestGoldenViews(t *testing.T) {
	api := newFake()
	userView := func() Model {
		m := keys(live(t), "2")
		m, _ = step(m, fetchUser(t.Context(), api, "ada@example.com")())
		return m
	}
	tests := []struct {
		name string
		m    func() Model
	}{
		{"live", func() Model { return live(t) }},
		{"live_filtered_paused", func() Model {
			m := typeText(keys(live(t), "p", "/"), "deny")
			return keys(m, "enter")
		}},
		{"live_detail", func() Model { return keys(live(t), "down", "enter") }},
		{"live_empty_offline", func() Model {
			m := newTestModel(t, api)
			m, _ = step(m, streamMsg{gen: m.gen, closed: true, err: errors.New("dial tcp 127.0.0.1:8080: connect: connection refused")})
			m.retryIn = 500 * time.Millisecond
			return m
		}},
		{"users", userView},
		{"users_confirm", func() Model { return keys(userView(), "down", "x") }},
		{"overview", func() Model {
			m := keys(live(t), "3")
			m, _ = step(m, statsMsg{stats: testStats()})
			m, _ = step(m, policyMsg{policy: adminclient.RiskPolicy{Version: "assent-default-1"}})
			return m
		}},
		{"help", func() Model { return keys(live(t), "?") }},
		{"tiny", func() Model {
			m, _ := step(live(t), tea.WindowSizeMsg{Width: 30, Height: 6})
			return m
		}},
		{"live_wide", func() Model {
			m, _ := step(live(t), tea.WindowSizeMsg{Width: 120, Height: 12})
			return m
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.m()
			got := m.View()
			lines := strings.Split(got, "\n")
			if len(lines) != m.height {
				t.Errorf("view has %d lines, want %d", len(lines), m.height)
			}
			for i, l := range lines {
				if w := lipgloss.Width(l); w > m.width {
					t.Errorf("line %d is %d wide: %q", i, w, l)
				}
			}
			if strings.Contains(got, "\x1b[") {
				t.Errorf("colour codes with colour off: %q", got)
			}
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("view differs from %s (go test -update rewrites it):\n%s", path, got)
			}
		})
	}
}
