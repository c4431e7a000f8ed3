package risk

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/risk/geo"
	"net/netip"
)

// policyWith loads the default policy with textual replacements applied.
func policyWith(t testing.TB, replace ...string) *Policy {
	t.Helper()
	y := string(DefaultPolicyYAML())
	for i := 0; i < len(replace); i += 2 {
		if !strings.Contains(y, replace[i]) {
			t.Fatalf("default policy has no %q", replace[i])
		}
		y = strings.Replace(y, replace[i], replace[i+1], 1)
	}
	p, err := LoadPolicy([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	homeIP    = "81.2.69.10"
	homeUA    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
	homeDev   = "dev-home"
	userAlice = "alice"
)

// newTestEngine returns an engine over a history in which alice signed in
// from Berlin on her usual device every day at 12:00 UTC for 50 days, and
// paid 200 payments of EUR 20-40 to ten usual payees, the last strongly
// authenticated one a day ago.
func newTestEngine(t testing.TB, p PolicySource) (*Engine, *MemoryHistory) {
	t.Helper()
	h := NewMemoryHistory()
	seedAlice(h, t0)
	e, err := NewEngine(Config{Policy: p, History: h, Locator: locatorFunc(func(ip string) geo.Location {
		switch ip {
		case "8.8.8.8", "2001:4860:4860::8888":
			return nyc
		case "2.125.160.216":
			return paris
		}
		return berlin
	}), Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return e, h
}

func seedAlice(h *MemoryHistory, now time.Time) {
	ua := ParseUserAgent(homeUA)
	for i := 50; i >= 1; i-- {
		h.AddSignIn(userAlice, SignIn{
			Time: now.Add(-time.Duration(i) * 24 * time.Hour), IP: mustAddr(homeIP), Location: berlin,
			DeviceID: homeDev, Browser: ua.Browser, OS: ua.OS, Strong: i%7 == 0,
		})
	}
	h.AddDevice(userAlice, homeDev, now.AddDate(0, -6, 0))
	for i := 200; i >= 1; i-- {
		h.AddPayment(userAlice, PaymentRecord{
			Time:     now.Add(-time.Duration(i) * 9 * time.Hour),
			Amount:   int64(2000 + (i*37)%2000),
			Currency: "EUR",
			Payee:    "payee-" + string(rune('a'+i%10)),
			Strong:   i == 3,
		})
	}
}

type locatorFunc func(ip string) geo.Location

func (f locatorFunc) Locate(ip netipAddr) geo.Location { return f(ip.String()) }

// failingHistory fails every lookup.
type failingHistory struct{ History }

func (failingHistory) User(context.Context, UserQuery, *UserFacts) error {
	return errors.New("disk on fire")
}

func loginEvent() Event {
	return Event{Kind: KindLogin, UserID: userAlice, Time: t0, IP: homeIP, UserAgent: homeUA, DeviceID: homeDev, Channel: ChannelWeb, ClientID: "web"}
}

func paymentEvent(cents int64, payee string) Event {
	ev := loginEvent()
	ev.Kind = KindPayment
	ev.Payment = Payment{Amount: cents, Currency: "EUR", Payee: payee, Instrument: InstrumentCard}
	return ev
}

type netipAddr = netip.Addr

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
