package risk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestNewEngineNeedsPolicyAndHistory(t *testing.T) {
	if _, err := NewEngine(Config{History: NewMemoryHistory()}); err == nil {
		t.Error("no policy accepted")
	}
	if _, err := NewEngine(Config{Policy: DefaultPolicy()}); err == nil {
		t.Error("no history accepted")
	}
	e, err := NewEngine(Config{Policy: DefaultPolicy(), History: NewMemoryHistory()})
	if err != nil {
		t.Fatal(err)
	}
	// Defaults: the embedded country database and the wall clock.
	a, err := e.Assess(t.Context(), Event{Kind: KindLogin, UserID: "u", IP: "23.16.28.232"})
	if err != nil || a.Location.Country != "CA" || a.Time.IsZero() {
		t.Errorf("defaults: %+v, %v", a, err)
	}
}

func TestUsualLoginIsAllowed(t *testing.T) {
	e, _ := newTestEngine(t, DefaultPolicy())
	a, err := e.Assess(t.Context(), loginEvent())
	if err != nil {
		t.Fatal(err)
	}
	if !a.Allowed() || a.Score != 0 || a.Level != LevelLow || len(a.Reasons) != 0 || a.ACR != "" || a.Methods != nil {
		t.Errorf("usual login: %+v", a)
	}
	if a.PolicyVersion != "assent-default-1" || !a.Time.Equal(t0) || a.Location.Country != "DE" {
		t.Errorf("assessment metadata: %+v", a)
	}
}

// TestFailClosed: every kind of bad input returns an error wrapping
// ErrInvalidEvent and an Assessment that challenges.
func TestFailClosed(t *testing.T) {
	e, _ := newTestEngine(t, DefaultPolicy())
	pay := func(amount int64, cur string) Event {
		ev := paymentEvent(amount, "payee-a")
		ev.Payment.Currency = cur
		return ev
	}
	mod := func(f func(*Event)) Event { ev := loginEvent(); f(&ev); return ev }
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{"unparseable IP", mod(func(e *Event) { e.IP = "300.1.2.3" }), "not an address"},
		{"missing IP", mod(func(e *Event) { e.IP = "" }), "not an address"},
		{"IP with port", mod(func(e *Event) { e.IP = "81.2.69.10:443" }), "not an address"},
		{"unknown kind", mod(func(e *Event) { e.Kind = "transfer" }), "unknown kind"},
		{"unknown channel", mod(func(e *Event) { e.Channel = "fax" }), "unknown channel"},
		{"missing user", mod(func(e *Event) { e.UserID = "" }), "missing user"},
		{"payment without amount", pay(0, "EUR"), "must be positive"},
		{"negative amount", pay(-500, "EUR"), "must be positive"},
		{"absurd amount", pay(1<<62, "EUR"), "above the policy's maximum"},
		{"absurd amount in USD", pay(1<<62, "USD"), "above the policy's maximum"},
		{"just over the maximum", pay(100000001, "EUR"), "above the policy's maximum"},
		{"missing currency", pay(1000, ""), "without currency"},
		{"unknown currency", pay(1000, "BTC"), `currency "BTC" is not accepted`},
		{"unknown instrument", func() Event { ev := pay(1000, "EUR"); ev.Payment.Instrument = "cheque"; return ev }(), "unknown payment instrument"},
	}
	for _, tt := range tests {
		a, err := e.Assess(t.Context(), tt.ev)
		if !errors.Is(err, ErrInvalidEvent) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want ErrInvalidEvent mentioning %q", tt.name, err, tt.want)
		}
		if a.Allowed() || a.Decision != DecisionChallenge || a.ACR != "phr" || len(a.Methods) == 0 || !a.Has(CodeInvalidEvent) {
			t.Errorf("%s: not failed closed: %+v", tt.name, a)
		}
		if a.PolicyVersion == "" {
			t.Errorf("%s: no policy version", tt.name)
		}
	}
	// The maximum itself is accepted.
	if _, err := e.Assess(t.Context(), pay(100000000, "EUR")); err != nil {
		t.Errorf("EUR 1,000,000.00: %v", err)
	}
	// The zero Assessment never allows.
	var zero Assessment
	if zero.Allowed() || zero.Decision != DecisionChallenge {
		t.Error("the zero Assessment allows")
	}
}

func TestHistoryFailureFailsClosed(t *testing.T) {
	e, err := NewEngine(Config{Policy: DefaultPolicy(), History: failingHistory{}, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.Assess(t.Context(), loginEvent())
	if !errors.Is(err, ErrHistory) || a.Allowed() || !a.Has(CodeHistoryFailed) {
		t.Errorf("history failure: %+v, %v", a, err)
	}
	// A cancelled context is a history failure too.
	e2, _ := newTestEngine(t, DefaultPolicy())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	a, err = e2.Assess(ctx, loginEvent())
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrHistory) || a.Allowed() {
		t.Errorf("cancelled: %+v, %v", a, err)
	}
}

func TestAssessScenarios(t *testing.T) {
	p := policyWith(t,
		"allow: []", `allow: ["198.51.100.0/24"]`,
		"deny: []", `deny: ["203.0.113.0/24"]`,
		"clients: {}", `clients:
  strict: {always_step_up: true, acr: phr}
  push-first: {methods: [push]}
  no-exemptions: {exemptions: false}`)
	tests := []struct {
		name     string
		ev       func() Event
		setup    func(h *MemoryHistory)
		decision Decision
		codes    []Code
		acr      string
		methods  string
	}{
		{
			name:     "new device",
			ev:       func() Event { ev := loginEvent(); ev.DeviceID = ""; return ev },
			decision: DecisionChallenge, codes: []Code{CodeUnknownDevice}, acr: "mfa", methods: "passkey,push,totp",
		},
		{
			name: "impossible travel to New York on a new device",
			ev:   func() Event { ev := loginEvent(); ev.IP = "8.8.8.8"; ev.DeviceID = "x"; return ev },
			setup: func(h *MemoryHistory) {
				h.AddSignIn(userAlice, SignIn{Time: t0.Add(-20 * time.Minute), Location: berlin})
			},
			decision: DecisionDeny, codes: []Code{CodeUnknownDevice, CodeNewCountry, CodeImpossibleTravel},
		},
		{
			name:     "new country on a known device, days later",
			ev:       func() Event { ev := loginEvent(); ev.IP = "2.125.160.216"; return ev },
			decision: DecisionAllow, codes: []Code{CodeNewCountry},
		},
		{
			name:     "private IP has no location and is no new country",
			ev:       func() Event { ev := loginEvent(); ev.IP = "192.168.1.20"; return ev },
			decision: DecisionAllow,
		},
		{
			name:     "denied network",
			ev:       func() Event { ev := loginEvent(); ev.IP = "203.0.113.5"; return ev },
			decision: DecisionDeny, codes: []Code{CodeIPDenylisted},
		},
		{
			name:     "allowed network offsets a new device",
			ev:       func() Event { ev := loginEvent(); ev.IP = "198.51.100.7"; ev.DeviceID = ""; return ev },
			decision: DecisionAllow, codes: []Code{CodeIPAllowlisted, CodeUnknownDevice},
		},
		{
			name:     "client always steps up",
			ev:       func() Event { ev := loginEvent(); ev.ClientID = "strict"; return ev },
			decision: DecisionChallenge, codes: []Code{CodeClientStepUp}, acr: "phr", methods: "passkey",
		},
		{
			name:     "client prefers push",
			ev:       func() Event { ev := loginEvent(); ev.ClientID = "push-first"; ev.DeviceID = ""; return ev },
			decision: DecisionChallenge, codes: []Code{CodeUnknownDevice}, acr: "mfa", methods: "push,passkey,totp",
		},
		{
			name:     "admin always steps up to phr",
			ev:       func() Event { ev := loginEvent(); ev.Kind = KindAdmin; return ev },
			decision: DecisionChallenge, codes: []Code{CodeKindStepUp}, acr: "phr", methods: "passkey",
		},
		{
			name:     "recovery weighs 30",
			ev:       func() Event { ev := loginEvent(); ev.Kind = KindRecovery; return ev },
			decision: DecisionChallenge, codes: []Code{CodeSensitiveKind}, acr: "mfa",
		},
		{
			name: "credential stuffing from one IP",
			ev:   func() Event { ev := loginEvent(); ev.IP = "81.2.69.99"; ev.DeviceID = ""; return ev },
			setup: func(h *MemoryHistory) {
				for i := range 12 {
					h.AddFailure("victim-"+string(rune('a'+i)), mustAddr("81.2.69.99"), t0.Add(-time.Duration(i)*3*time.Second))
				}
			},
			decision: DecisionDeny, codes: []Code{CodeUnknownDevice, CodeIPFailures, CodeIPAccounts},
		},
		{
			name: "failures on the account",
			ev:   loginEvent,
			setup: func(h *MemoryHistory) {
				for i := range 3 {
					h.AddFailure(userAlice, mustAddr("81.2.69.10"), t0.Add(-time.Duration(i+1)*time.Minute))
				}
			},
			decision: DecisionAllow, codes: []Code{CodeAccountFailures},
		},
		{
			name:     "reported this wasn't me",
			ev:       loginEvent,
			setup:    func(h *MemoryHistory) { h.AddReport(userAlice, t0.Add(-3*time.Hour)) },
			decision: DecisionChallenge, codes: []Code{CodeReportedNotMe}, acr: "mfa",
		},
		{
			name:     "CIBA skips network and device signals",
			ev:       func() Event { ev := loginEvent(); ev.Channel = ChannelCIBA; ev.IP = ""; ev.DeviceID = ""; return ev },
			decision: DecisionAllow,
		},
		{
			name:     "usual small payment: low-value exemption",
			ev:       func() Event { return paymentEvent(2500, "payee-b") },
			decision: DecisionAllow,
		},
		{
			name:     "client refusing exemptions",
			ev:       func() Event { ev := paymentEvent(2500, "payee-b"); ev.ClientID = "no-exemptions"; return ev },
			decision: DecisionChallenge, codes: []Code{CodeSCARequired}, acr: "mfa",
		},
		{
			name:     "large payment to a new payee",
			ev:       func() Event { return paymentEvent(150000, "mule") },
			decision: DecisionChallenge, codes: []Code{CodeAmountAnomaly, CodeNewPayee}, acr: "mfa",
		},
		{
			name: "SIM swap: a device enrolled minutes ago pays",
			ev:   func() Event { ev := paymentEvent(150000, "mule"); ev.DeviceID = "new-phone"; return ev },
			setup: func(h *MemoryHistory) {
				h.AddDevice(userAlice, "new-phone", t0.Add(-10*time.Minute))
			},
			decision: DecisionChallenge, codes: []Code{CodeUnknownDevice, CodeAmountAnomaly, CodeNewPayee}, acr: "phr",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, h := newTestEngine(t, p)
			if tt.setup != nil {
				tt.setup(h)
			}
			a, err := e.Assess(t.Context(), tt.ev())
			if err != nil {
				t.Fatal(err)
			}
			if a.Decision != tt.decision {
				t.Errorf("decision %s, want %s (score %d, %+v)", a.Decision, tt.decision, a.Score, a.Reasons)
			}
			for _, c := range tt.codes {
				if !a.Has(c) {
					t.Errorf("no %s reason: %+v", c, a.Reasons)
				}
			}
			if tt.acr != "" && a.ACR != tt.acr {
				t.Errorf("acr %q, want %q", a.ACR, tt.acr)
			}
			if tt.methods != "" && strings.Join(a.Methods, ",") != tt.methods {
				t.Errorf("methods %v, want %s", a.Methods, tt.methods)
			}
			sum := 0
			for _, r := range a.Reasons {
				sum += r.Weight
				if r.Detail == "" {
					t.Errorf("reason without detail: %+v", r)
				}
			}
			if want := min(max(sum, 0), 100); a.Score != want {
				t.Errorf("score %d, reasons add up to %d", a.Score, want)
			}
			if a.Decision == DecisionChallenge && (a.ACR == "" || len(a.Methods) == 0) {
				t.Errorf("challenge without acr or methods: %+v", a)
			}
		})
	}
}

func TestAssessmentIsolation(t *testing.T) {
	// Methods and Reasons belong to the caller: changing them must not
	// change the policy or the next assessment.
	e, _ := newTestEngine(t, DefaultPolicy())
	ev := loginEvent()
	ev.DeviceID = ""
	a, _ := e.Assess(t.Context(), ev)
	a.Methods[0] = "tampered"
	a.Reasons[0].Code = "tampered"
	b, _ := e.Assess(t.Context(), ev)
	if b.Methods[0] != "passkey" || b.Reasons[0].Code != CodeUnknownDevice {
		t.Errorf("assessments share state: %+v", b)
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	e, h := newTestEngine(t, DefaultPolicy())
	ev := loginEvent()
	ev.IP = "2.125.160.216"
	ev.DeviceID = "laptop-2"
	a, _ := e.Assess(t.Context(), ev)
	s := SignInRecord(ev, a, true)
	if s.Location.Country != "FR" || s.Browser != "chrome" || s.OS != "windows" || !s.Strong || s.IP != mustAddr("2.125.160.216") {
		t.Errorf("sign-in record %+v", s)
	}
	h.AddSignIn(userAlice, s)
	ev.Time = t0.Add(2 * time.Hour)
	a, _ = e.Assess(t.Context(), ev)
	if a.Has(CodeNewCountry) || a.Has(CodeUnknownDevice) {
		t.Errorf("after a strong sign-in the country and device are known: %+v", a.Reasons)
	}
	pe := paymentEvent(1234, "new-shop")
	pa, _ := e.Assess(t.Context(), pe)
	pr := PaymentRecordOf(pe, pa, false)
	if pr.Amount != 1234 || pr.Payee != "new-shop" || pr.Currency != "EUR" || pr.Strong {
		t.Errorf("payment record %+v", pr)
	}
}

func TestDecisionText(t *testing.T) {
	for _, d := range []Decision{DecisionAllow, DecisionChallenge, DecisionDeny} {
		b, err := d.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Decision
		if err := back.UnmarshalText(b); err != nil || back != d || d.String() != string(b) {
			t.Errorf("%v round trip: %v %v", d, back, err)
		}
	}
	var d Decision
	if err := d.UnmarshalText([]byte("maybe")); err == nil {
		t.Error("unknown decision accepted")
	}
	if _, err := Decision(9).MarshalText(); err == nil || !strings.Contains(Decision(9).String(), "9") {
		t.Error("invalid decision marshalled")
	}
}

func TestIPv6Networks(t *testing.T) {
	if got := NetworkOf(mustAddr("2001:db8:1:2:3:4:5:6")).String(); got != "2001:db8:1:2::/64" {
		t.Errorf("NetworkOf IPv6 = %s", got)
	}
	if got := NetworkOf(mustAddr("::ffff:81.2.69.10")).String(); got != "81.2.69.10/32" {
		t.Errorf("NetworkOf mapped = %s", got)
	}
	// Failures from anywhere in one /64 count together.
	e, h := newTestEngine(t, DefaultPolicy())
	for i := range 12 {
		h.AddFailure(fmt.Sprintf("x%d", i), mustAddr(fmt.Sprintf("2a02:8100:1:2::%x", i+1)), t0.Add(-time.Second))
	}
	ev := loginEvent()
	ev.IP = "2a02:8100:1:2:ffff::1"
	a, _ := e.Assess(t.Context(), ev)
	if !a.Has(CodeIPFailures) || !a.Has(CodeIPAccounts) {
		t.Errorf("IPv6 /64 counters: %+v", a.Reasons)
	}
}
