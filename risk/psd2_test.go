package risk

import (
	"fmt"
	"github.com/assent-auth/assent/risk/geo"
	"math"
	"testing"
	"time"
)

func TestTRALimit(t *testing.T) {
	tests := []struct {
		inst Instrument
		rate float64
		want int64
	}{
		{InstrumentCard, 0.2, 0},
		{InstrumentCard, 0.1301, 0},
		{InstrumentCard, 0.13, 10000},
		{InstrumentCard, 0.1299, 10000},
		{InstrumentCard, 0.0601, 10000},
		{InstrumentCard, 0.06, 25000},
		{InstrumentCard, 0.0599, 25000},
		{InstrumentCard, 0.0101, 25000},
		{InstrumentCard, 0.01, 50000},
		{InstrumentCard, 0, 50000},
		{InstrumentCreditTransfer, 0.0151, 0},
		{InstrumentCreditTransfer, 0.015, 10000},
		{InstrumentCreditTransfer, 0.0149, 10000},
		{InstrumentCreditTransfer, 0.0101, 10000},
		{InstrumentCreditTransfer, 0.01, 25000},
		{InstrumentCreditTransfer, 0.0051, 25000},
		{InstrumentCreditTransfer, 0.005, 50000},
		{InstrumentCreditTransfer, 0.0049, 50000},
	}
	for _, tt := range tests {
		c := traConfig{enabled: true, card: math.NaN(), creditTransfer: math.NaN()}
		if tt.inst == InstrumentCard {
			c.card = tt.rate
		} else {
			c.creditTransfer = tt.rate
		}
		if got := traLimit(c, tt.inst); got != tt.want {
			t.Errorf("%s at %v%%: limit %d, want %d", tt.inst, tt.rate, got, tt.want)
		}
	}
	if got := traLimit(traConfig{enabled: true, card: 0.01, creditTransfer: math.NaN()}, InstrumentCreditTransfer); got != 0 {
		t.Errorf("no transfer rate configured: limit %d", got)
	}
	if got := traLimit(traConfig{enabled: false, card: 0.01}, InstrumentCard); got != 0 {
		t.Errorf("disabled: limit %d", got)
	}
}

func TestLowValueApplies(t *testing.T) {
	c := lowValueConfig{enabled: true, maxEURCents: 3000, maxCumulativeCents: 10000, maxCount: 5}
	tests := []struct {
		name   string
		amount int64
		count  int
		sum    int64
		known  bool
		want   bool
	}{
		{"EUR 30.00", 3000, 0, 0, true, true},
		{"EUR 30.01", 3001, 0, 0, true, false},
		{"cumulative exactly EUR 100", 3000, 3, 7000, true, true},
		{"cumulative EUR 100.01", 3000, 3, 7001, true, false},
		{"5th payment since SCA", 100, 4, 400, true, true},
		{"6th payment since SCA", 100, 5, 500, true, false},
		{"counters unknown", 100, 0, 0, false, false},
	}
	for _, tt := range tests {
		if got := lowValueApplies(c, tt.amount, tt.count, tt.sum, tt.known); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	c.enabled = false
	if lowValueApplies(c, 100, 0, 0, true) {
		t.Error("disabled exemption applied")
	}
}

// exemptionFor assesses a payment by bob, whose history is a strongly
// authenticated payment followed by prior (amounts in euro cents), with a
// known device, so that the risk is low.
func exemptionFor(t *testing.T, p *Policy, prior []int64, pay Payment) Assessment {
	t.Helper()
	h := NewMemoryHistory()
	for i := 40; i >= 1; i-- {
		h.AddSignIn("bob", SignIn{Time: t0.Add(-time.Duration(i) * 24 * time.Hour), IP: mustAddr(homeIP), Location: berlin, DeviceID: homeDev, Browser: "chrome", OS: "windows", Strong: true})
	}
	for i := 30; i >= 1; i-- {
		h.AddPayment("bob", PaymentRecord{Time: t0.Add(-time.Duration(i) * 48 * time.Hour), Amount: 20000, Currency: "EUR", Payee: "shop", Strong: true})
	}
	for i, cents := range prior {
		h.AddPayment("bob", PaymentRecord{Time: t0.Add(-time.Duration(len(prior)-i) * time.Hour), Amount: cents, Currency: "EUR", Payee: "shop"})
	}
	e, err := NewEngine(Config{Policy: p, History: h, Locator: locatorFunc(func(string) geo.Location { return berlin }), Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	ev := Event{Kind: KindPayment, UserID: "bob", IP: homeIP, UserAgent: homeUA, DeviceID: homeDev, Channel: ChannelWeb, Payment: pay}
	if pay.Payee == "" {
		ev.Payment.Payee = "shop"
	}
	if ev.Payment.Currency == "" {
		ev.Payment.Currency = "EUR"
	}
	a, err := e.Assess(t.Context(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestLowValueExemptionBoundaries(t *testing.T) {
	noTRA := policyWith(t, "  enabled: true\n      card_fraud_rate", "  enabled: false\n      card_fraud_rate")
	tests := []struct {
		name  string
		prior []int64
		cents int64
		want  Exemption
	}{
		{"EUR 30.00", nil, 3000, ExemptionLowValue},
		{"EUR 30.01", nil, 3001, ExemptionNone},
		{"cumulative EUR 100.00", []int64{3000, 2500, 1500}, 3000, ExemptionLowValue},
		{"cumulative EUR 100.01", []int64{3000, 2500, 1501}, 3000, ExemptionNone},
		{"5th since SCA", []int64{100, 100, 100, 100}, 100, ExemptionLowValue},
		{"6th since SCA", []int64{100, 100, 100, 100, 100}, 100, ExemptionNone},
	}
	for _, tt := range tests {
		a := exemptionFor(t, noTRA, tt.prior, Payment{Amount: tt.cents, Instrument: InstrumentCard})
		if a.Exemption != tt.want {
			t.Errorf("%s: exemption %q, want %q (%+v)", tt.name, a.Exemption, tt.want, a.Reasons)
		}
		if want := tt.want != ExemptionNone; a.Allowed() != want {
			t.Errorf("%s: decision %s", tt.name, a.Decision)
		}
		if !a.Allowed() && !a.Has(CodeSCARequired) {
			t.Errorf("%s: challenged without sca_required: %+v", tt.name, a.Reasons)
		}
	}
}

func TestTRAExemptionBands(t *testing.T) {
	tests := []struct {
		inst  Instrument
		rate  string
		cents int64
		want  Exemption
	}{
		{InstrumentCard, "0.13", 10000, ExemptionTRA},
		{InstrumentCard, "0.13", 10001, ExemptionNone},
		{InstrumentCard, "0.1301", 5000, ExemptionNone},
		{InstrumentCard, "0.06", 25000, ExemptionTRA},
		{InstrumentCard, "0.0601", 25000, ExemptionNone},
		{InstrumentCard, "0.0599", 25000, ExemptionTRA},
		{InstrumentCard, "0.01", 50000, ExemptionTRA},
		{InstrumentCard, "0.01", 50001, ExemptionNone},
		{InstrumentCard, "0.0101", 50000, ExemptionNone},
		{InstrumentCreditTransfer, "0.015", 10000, ExemptionTRA},
		{InstrumentCreditTransfer, "0.0151", 10000, ExemptionNone},
		{InstrumentCreditTransfer, "0.01", 25000, ExemptionTRA},
		{InstrumentCreditTransfer, "0.0101", 25000, ExemptionNone},
		{InstrumentCreditTransfer, "0.005", 50000, ExemptionTRA},
		{InstrumentCreditTransfer, "0.0049", 50000, ExemptionTRA},
		{InstrumentCreditTransfer, "0.0051", 50000, ExemptionNone},
	}
	for _, tt := range tests {
		field := "card_fraud_rate: 0.05 "
		if tt.inst == InstrumentCreditTransfer {
			field = "credit_transfer_fraud_rate: 0.008 "
		}
		p := policyWith(t, field, field[:len(field)-len("0.05 ")]+tt.rate+" ",
			"low_value: {enabled: true", "low_value: {enabled: false") // keep low-value out of the way
		a := exemptionFor(t, p, nil, Payment{Amount: tt.cents, Instrument: tt.inst})
		if a.Exemption != tt.want {
			t.Errorf("%s at %s%%, %s: exemption %q, want %q (%+v)", tt.inst, tt.rate, eur(tt.cents), a.Exemption, tt.want, a.Reasons)
		}
	}
}

func TestExemptionOrderAndRisk(t *testing.T) {
	p := DefaultPolicy()
	// trusted payee: any amount, when the risk is low
	a := exemptionFor(t, p, nil, Payment{Amount: 2500, Payee: "shop", PayeeTrusted: true})
	if a.Exemption != ExemptionTrustedPayee {
		t.Errorf("trusted payee: %q", a.Exemption)
	}
	// low value before TRA
	if a := exemptionFor(t, p, nil, Payment{Amount: 2000}); a.Exemption != ExemptionLowValue {
		t.Errorf("small payment: %q", a.Exemption)
	}
	// TRA (default: EUR 250) once low value is spent
	if a := exemptionFor(t, p, []int64{3000, 3000, 3000, 1000}, Payment{Amount: 2000}); a.Exemption != ExemptionTRA {
		t.Errorf("after the low-value budget: %q", a.Exemption)
	}
	if a := exemptionFor(t, p, nil, Payment{Amount: 25001, Instrument: InstrumentCard}); a.Exemption != ExemptionNone || a.Allowed() {
		t.Errorf("over every threshold: %q %s", a.Exemption, a.Decision)
	}
	// risky: no exemption even for a small amount
	risky := exemptionFor(t, p, nil, Payment{Amount: 2000, Payee: "brand-new"})
	if risky.Exemption != ExemptionLowValue {
		t.Errorf("new payee alone (weight 10) is still low risk: %q %+v", risky.Exemption, risky.Reasons)
	}
	strict := policyWith(t, "max_score: 29", "max_score: 5")
	if a := exemptionFor(t, strict, nil, Payment{Amount: 2000, Payee: "brand-new"}); a.Exemption != ExemptionNone || a.Allowed() {
		t.Errorf("score above exemptions.max_score: %q %s", a.Exemption, a.Decision)
	}
}

func TestCurrencies(t *testing.T) {
	p := DefaultPolicy()
	tests := []struct {
		amount int64
		cur    string
		want   int64
		ok     bool
	}{
		{1234, "EUR", 1234, true},
		{10000, "USD", 9200, true}, // USD 100.00 at 0.92
		{10000, "JPY", 6200, true}, // JPY 10,000 (no minor unit) at 0.0062
		{100000, "HUF", 250, true}, // HUF 1,000.00 at 0.0025
		{100, "XXX", 0, false},
		{100, "eur", 0, false},
	}
	for _, tt := range tests {
		got, ok := p.toEURCents(tt.amount, tt.cur)
		if ok != tt.ok || got != tt.want {
			t.Errorf("%d %s: %d %v, want %d %v", tt.amount, tt.cur, got, ok, tt.want, tt.ok)
		}
	}
	for _, tt := range []struct {
		code string
		want int
	}{{"EUR", 2}, {"JPY", 0}, {"KWD", 3}, {"USD", 2}} {
		if got := minorUnits(tt.code); got != tt.want {
			t.Errorf("minorUnits(%s) = %d", tt.code, got)
		}
	}
	// A USD 30.00 payment is EUR 27.60: within the low-value limit.
	if a := exemptionFor(t, p, nil, Payment{Amount: 3000, Currency: "USD"}); a.Exemption != ExemptionLowValue {
		t.Errorf("USD 30.00: %q", a.Exemption)
	}
	_ = fmt.Sprint
}
