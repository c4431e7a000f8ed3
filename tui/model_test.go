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
	mu       sync.Mutex
	actions  []string
	users    map[string]adminclient.User
	factors  []adminclient.Factor
	risk     []adminclient.RiskAssessment
	signIns  []adminclient.SignIn
	sessions []adminclient.Session
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
func (f *fakeAPI) RevokeAppDevice(_ context.Context, u, id string) error {
	f.record("revoke " + u + " " + id)
	return nil
}
func (f *fakeAPI) UserSessions(context.Context, string) ([]adminclient.Session, error) {
	return f.sessions, nil
}
func (f *fakeAPI) UserSignIns(context.Context, string, int) ([]adminclient.SignIn, error) {
	return f.signIns, nil
}
func (f *fakeAPI) SignOutUser(_ context.Context, u string) (adminclient.SignOutResult, error) {
	f.record("signout " + u)
	return adminclient.SignOutResult{Sessions: 2, RefreshTokens: 1}, nil
}
func (f *fakeAPI) StartAppEnrollment(_ context.Context, u string) (adminclient.AppEnrollment, error) {
	f.record("enroll " + u)
	return adminclient.AppEnrollment{Code: "ABCD-EFGH-JKLM", ExpiresAt: t0.Add(10 * time.Minute)}, nil
}
func (f *fakeAPI) MailAppEnrollment(_ context.Context, u string) (adminclient.AppEnrollment, error) {
	f.record("mail enroll " + u)
	return adminclient.AppEnrollment{SentTo: "ada@example.com", ExpiresAt: t0.Add(10 * time.Minute)}, nil
}
func (f *fakeAPI) PendingPush(context.Context) (adminclient.PushOverview, error) {
	return testPush(), nil
}

func testPush() adminclient.PushOverview {
	return adminclient.PushOverview{Time: t0,
		Pending: []adminclient.PendingPush{
			{ID: "pr_1", UserID: "u_BOB", Email: "bob@example.com", Kind: "signin", RPName: "Assent", IP: "198.51.100.23", Country: "US",
				Browser: "Firefox on Linux", CreatedAt: t0.Add(-110 * time.Second), ExpiresAt: t0.Add(10 * time.Second), ExpiresIn: 10},
			{ID: "pr_2", UserID: "u_ADA", Email: "ada@example.com", Kind: "payment", IP: "203.0.113.7", Country: "FI",
				Amount: "120.00", Currency: "EUR", Payee: "ACME Oy", CreatedAt: t0.Add(-8 * time.Second), ExpiresAt: t0.Add(112 * time.Second), ExpiresIn: 112},
		},
		Recent: []adminclient.PushDecision{
			{Time: t0.Add(-20 * time.Second), UserID: "u_EVE", Email: "eve@example.com", Status: "locked"},
			{Time: t0.Add(-30 * time.Second), RequestID: "pr_0", UserID: "u_EVE", Email: "eve@example.com", Status: "denied", NotMe: true, LatencyMs: 4200},
			{Time: t0.Add(-90 * time.Second), RequestID: "pr_9", UserID: "u_ADA", Email: "ada@example.com", Status: "approved", LatencyMs: 2300},
		}}
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
			{ID: "app_PHONE1", Kind: "app_device", Name: "Ada's phone", CreatedAt: t0.Add(-10 * time.Hour), Platform: "ios"},
		},
		signIns: []adminclient.SignIn{
			{Time: t0.Add(-time.Hour), IP: "203.0.113.7", Country: "FI", City: "Helsinki", Browser: "Firefox", OS: "Linux", Strong: true},
			{Time: t0.Add(-26 * time.Hour), IP: "203.0.113.7", Country: "FI", Browser: "Safari", OS: "iOS"},
		},
		sessions: []adminclient.Session{
			{CreatedAt: t0.Add(-time.Hour), AuthTime: t0.Add(-time.Hour), ExpiresAt: t0.Add(11 * time.Hour), AMR: []string{"pwd", "otp", "mfa"},
				IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"},
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
			{Minutes: 1, SignIns: 12, Assessments: 14, Challenges: 3, Denies: 1, ChallengeRate: 3.0 / 14, DenyRate: 1.0 / 14,
				SignInLatency: adminclient.Latency{Count: 12, P50: 48.2, P90: 60, P99: 95.1},
				PushRequests:  2, Approvals: 1, ApprovalLatency: adminclient.Latency{Count: 1, P50: 2300, P90: 2300, P99: 2300}},
			{Minutes: 5, SignIns: 50, Failures: 4, Assessments: 60, Challenges: 9, Denies: 2, ChallengeRate: 0.15, DenyRate: 2.0 / 60,
				SignInLatency: adminclient.Latency{Count: 50, P50: 47.9, P90: 70, P99: 1210},
				PushRequests:  9, Approvals: 6, Denials: 2, Reports: 1, ApprovalLatency: adminclient.Latency{Count: 6, P50: 3100, P90: 7000, P99: 8800}},
			{Minutes: 60, SignIns: 400, Failures: 31, Assessments: 480, Challenges: 40, Denies: 12, ChallengeRate: 40.0 / 480, DenyRate: 12.0 / 480,
				SignInLatency: adminclient.Latency{Count: 400, P50: 50.3, P90: 80, P99: 2410},
				PushRequests:  40, Approvals: 33, Denials: 5, Reports: 1, ApprovalLatency: adminclient.Latency{Count: 33, P50: 3400, P90: 9000, P99: 24100}},
		},
		AssessmentsPerMinute: per, SignInsPerMinute: per, ApprovalsPerMinute: per, DenialsPerMinute: per,
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
		withClient(event(4, "risk.assessed", "u_BOB", "198.51.100.23", "US", "challenge", "55", "unknown_device new_country"), "shop"),
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
	for _, want := range []tab{tabApprovals, tabUsers, tabOverview, tabLive} {
		if m = keys(m, "tab"); m.tab != want {
			t.Fatalf("tab = %v, want %v", m.tab, want)
		}
	}
	if m = keys(m, "4"); m.tab != tabOverview {
		t.Errorf("4 -> %v", m.tab)
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
	m := keys(newTestModel(t, api), "3", "/")
	m = typeText(m, "ada@example.com")
	m, cmd := step(m, tea.KeyMsg{Type: tea.KeyEnter})
	if cmd == nil {
		t.Fatal("enter does not look the user up")
	}
	m, _ = step(m, cmd())
	if m.user == nil || m.user.user.ID != "u_ADA" || len(m.user.factors) != 3 || len(m.user.signIns) != 2 {
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
	// The app device is revoked like a factor.
	m = keys(m, "down", "down", "x")
	if m.confirm == nil || !strings.HasPrefix(m.confirm.prompt, "Revoke app device app_PHONE1") {
		t.Fatalf("revoke prompt: %+v", m.confirm)
	}
	m, cmd = step(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("y")})
	m, _ = step(m, cmd())
	m = keys(m, "o")
	m, cmd = step(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("y")})
	if m, _ = step(m, cmd()); m.notice != "sign out ada@example.com: 2 sessions ended, 1 refresh tokens revoked" {
		t.Errorf("sign-out notice %q", m.notice)
	}
	m = keys(m, "e")
	m, cmd = step(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("y")})
	if m, _ = step(m, cmd()); !strings.Contains(m.notice, "ABCD-EFGH-JKLM (once, until 12:10)") {
		t.Errorf("enrollment notice %q", m.notice)
	}
	// m mails the code to the user instead: the operator never sees it.
	m = keys(m, "e")
	m, cmd = step(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("m")})
	if m, _ = step(m, cmd()); m.notice != "enrollment code for ada@example.com: mailed to ada@example.com (once, until 12:10)" {
		t.Errorf("mailed enrollment notice %q", m.notice)
	}
	// m means nothing to other confirmations: it cancels.
	if m = keys(m, "l", "m"); m.confirm != nil || m.notice != "cancelled" {
		t.Errorf("m on a lock confirmation: %+v %q", m.confirm, m.notice)
	}
	// Keys without a user looked up do nothing.
	if m2 := keys(keys(newTestModel(t, api), "3"), "o", "e", "x"); m2.confirm != nil {
		t.Error("an action without a user")
	}
	if got := strings.Join(api.actions, "; "); got != "lock u_ADA; remove u_ADA f_TOTP1; unlock u_ADA; revoke u_ADA app_PHONE1; signout u_ADA; enroll u_ADA; mail enroll u_ADA" {
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
		m := keys(live(t), "3")
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
		{"users_enroll_confirm", func() Model { return keys(userView(), "e") }},
		{"overview", func() Model {
			m := keys(live(t), "4")
			m, _ = step(m, statsMsg{stats: testStats()})
			m, _ = step(m, policyMsg{policy: adminclient.RiskPolicy{Version: "assent-default-1"}})
			return m
		}},
		{"help", func() Model { return keys(live(t), "?") }},
		{"approvals", func() Model { return approvals(t) }},
		{"approvals_countdown", func() Model {
			// Twelve seconds on: the first request has expired, the
			// second counts down.
			m := keys(approvals(t), "down")
			m, _ = step(m, clockMsg(m.pushAt.Add(12*time.Second)))
			return m
		}},
		{"approvals_loading", func() Model { return keys(live(t), "2") }},
		{"users_crowded", func() Model {
			// More of everything than 80x24 holds: each section keeps a
			// share and the screen its size.
			crowded := newFake()
			for i := range 10 {
				crowded.risk = append(crowded.risk, crowded.risk[0])
				crowded.signIns = append(crowded.signIns, crowded.signIns[i%2])
				crowded.sessions = append(crowded.sessions, crowded.sessions[0])
			}
			m := keys(live(t), "3")
			m, _ = step(m, fetchUser(t.Context(), crowded, "ada@example.com")())
			return m
		}},
		{"users_wide", func() Model {
			m, _ := step(userView(), tea.WindowSizeMsg{Width: 120, Height: 30})
			return m
		}},
		{"users_enrollment", func() Model {
			m := keys(userView(), "e")
			m, cmd := step(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("y")})
			m, _ = step(m, cmd())
			return m
		}},
		{"tiny", func() Model {
			m, _ := step(live(t), tea.WindowSizeMsg{Width: 30, Height: 6})
			return m
		}},
		{"live_xwide", func() Model {
			m, _ := step(live(t), tea.WindowSizeMsg{Width: 160, Height: 12})
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

func approvals(t *testing.T) Model {
	m := keys(live(t), "2")
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	m, _ = step(m, pushMsg{push: testPush(), at: at})
	m, _ = step(m, statsMsg{stats: testStats()})
	return m
}

func TestApprovals(t *testing.T) {
	m := approvals(t)
	if m.push == nil || len(m.push.Pending) != 2 || !m.now.Equal(m.pushAt) {
		t.Fatalf("push = %+v", m.push)
	}
	m = keys(m, "down", "down")
	if m.pushSel != 1 {
		t.Errorf("selection %d past the end", m.pushSel)
	}
	// enter opens the request's user in the Users tab.
	m, cmd := step(m, tea.KeyMsg{Type: tea.KeyEnter})
	if m.tab != tabUsers || cmd == nil {
		t.Fatalf("enter: tab %v", m.tab)
	}
	if um := cmd().(userMsg); um.query != "u_ADA" {
		t.Errorf("opened %q", um.query)
	}
	// A failed refresh keeps the last list and says so.
	m, _ = step(m, pushMsg{err: errors.New("connection refused")})
	if m.push == nil || m.pushErr != "connection refused" {
		t.Errorf("after a failed refresh: %v %q", m.push, m.pushErr)
	}
	// The clock ticks on by itself.
	if _, cmd := step(m, clockMsg(t0)); cmd == nil {
		t.Error("the clock stopped")
	}
	// The stats tick refreshes the approvals too.
	if _, cmd := step(m, statsTickMsg{}); cmd == nil {
		t.Error("no refresh")
	}
}

// BenchmarkView draws the Live tab holding 1,000 events, the most it
// keeps, at two sizes, with and without a filter; and holding 10, to show
// the cost does not grow with the events kept.
func BenchmarkView(b *testing.B) {
	for _, c := range []struct {
		n, w, h int
		filter  string
	}{{maxEvents, 80, 24, ""}, {maxEvents, 200, 60, ""}, {maxEvents, 80, 24, "deny"}, {10, 80, 24, ""}} {
		name := fmt.Sprintf("live_%d_events_%dx%d", c.n, c.w, c.h)
		if c.filter != "" {
			name += "_filtered"
		}
		b.Run(name, func(b *testing.B) {
			r := lipgloss.NewRenderer(io.Discard)
			r.SetColorProfile(termenv.ANSI256)
			m := New(b.Context(), Options{API: newFake(), Server: "http://localhost:8080", Renderer: r, Location: time.UTC})
			m, _ = step(m, tea.WindowSizeMsg{Width: c.w, Height: c.h})
			var items []adminclient.StreamItem
			for i := range c.n {
				e := event(uint64(i+1), "risk.assessed", "u_X", "192.0.2.1", "FI", []string{"allow", "challenge", "deny"}[i%3], "40", "unknown_device new_country")
				items = append(items, adminclient.StreamItem{Type: "audit", Seq: e.Seq, Event: e})
			}
			m, _ = step(m, streamMsg{gen: m.gen, opened: true, items: items})
			m.filter.SetValue(c.filter)
			b.ReportAllocs()
			for b.Loop() {
				_ = m.View()
			}
		})
	}
}

func TestShare(t *testing.T) {
	for _, c := range []struct {
		room int
		ns   []int
		want string
	}{
		{3, []int{10, 10, 10}, "[1 1 1]"},
		{0, []int{5, 0, 2}, "[1 0 1]"},
		{-4, []int{5, 1, 2}, "[1 1 1]"},
		{10, []int{2, 1, 20}, "[2 1 7]"},
		{100, []int{2, 1, 3}, "[2 1 3]"},
	} {
		if got := fmt.Sprint(share(c.room, c.ns...)); got != c.want {
			t.Errorf("share(%d, %v) = %s, want %s", c.room, c.ns, got, c.want)
		}
	}
}

func withClient(e adminclient.AuditEvent, client string) adminclient.AuditEvent {
	e.Details["client_id"] = client
	return e
}
