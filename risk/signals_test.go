package risk

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/risk/geo"
)

var t0 = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func cityLoc(country string, lat, lon, radius float64) geo.Location {
	return geo.Location{Country: country, Lat: lat, Lon: lon, RadiusKm: radius, Precision: geo.PrecisionCity}
}

func countryLoc(code string) geo.Location {
	c, _ := geo.LookupCountry(code)
	return geo.Location{Country: c.Code, Lat: c.Lat, Lon: c.Lon, RadiusKm: c.RadiusKm, Precision: geo.PrecisionCountry}
}

var (
	berlin = cityLoc("DE", 52.52, 13.40, 20)
	munich = cityLoc("DE", 48.14, 11.58, 20)
	paris  = cityLoc("FR", 48.86, 2.35, 20)
	nyc    = cityLoc("US", 40.71, -74.01, 20)
)

// check asserts a signal's outcome and that its detail mentions want.
func check(t *testing.T, name string, r Reason, fired, wantFired bool, wantWeight int, want string) {
	t.Helper()
	if fired != wantFired {
		t.Errorf("%s: fired = %v, want %v (%+v)", name, fired, wantFired, r)
		return
	}
	if !fired {
		return
	}
	if r.Weight != wantWeight {
		t.Errorf("%s: weight %d, want %d", name, r.Weight, wantWeight)
	}
	if r.Code == "" || r.Detail == "" || !strings.Contains(r.Detail, want) {
		t.Errorf("%s: reason %+v, want detail containing %q", name, r, want)
	}
}

func TestSignalUnknownDevice(t *testing.T) {
	c := deviceSignal{Weight: 30, MinAge: time.Hour}
	tests := []struct {
		name      string
		id        string
		firstSeen time.Time
		fired     bool
		detail    string
	}{
		{"no cookie", "", time.Time{}, true, "no device cookie"},
		{"never seen", "d1", time.Time{}, true, "new device"},
		{"seen 20 min ago", "d1", t0.Add(-20 * time.Minute), true, "first seen 20 min ago"},
		{"seen 59 min ago", "d1", t0.Add(-59 * time.Minute), true, "59 min"},
		{"seen exactly min_age ago", "d1", t0.Add(-time.Hour), false, ""},
		{"seen last month", "d1", t0.AddDate(0, -1, 0), false, ""},
	}
	for _, tt := range tests {
		r, ok := signalUnknownDevice(c, tt.id, tt.firstSeen, t0)
		check(t, tt.name, r, ok, tt.fired, 30, tt.detail)
	}
	if _, ok := signalUnknownDevice(deviceSignal{}, "", time.Time{}, t0); ok {
		t.Error("weight 0 fired")
	}
}

func TestSignalNewCountry(t *testing.T) {
	c := weightOnly{Weight: 25}
	de := []SignIn{{Location: berlin}, {Location: munich}}
	tests := []struct {
		name   string
		loc    geo.Location
		past   []SignIn
		fired  bool
		detail string
	}{
		{"same country", munich, de, false, ""},
		{"new country, city level", paris, de, true, "first sign-in from France (city-level"},
		{"new country, country level", countryLoc("US"), de, true, "United States (country-level"},
		{"no history", paris, nil, false, ""},
		{"history without locations", paris, []SignIn{{}, {}}, false, ""},
		{"unknown location (private IP)", geo.Location{}, de, false, ""},
		{"country seen long ago in the window", paris, append(append([]SignIn{}, de...), SignIn{Location: paris}), false, ""},
	}
	for _, tt := range tests {
		r, ok := signalNewCountry(c, tt.loc, tt.past)
		check(t, tt.name, r, ok, tt.fired, 25, tt.detail)
	}
}

func TestSignalImpossibleTravel(t *testing.T) {
	c := travelSignal{Weight: 50, NoisyWeight: 10, MaxKmh: 900, CityToleranceKm: 100, CountryToleranceKm: 300, DomesticToleranceKm: 800}
	at := func(l geo.Location, ago time.Duration) travelPoint { return travelPoint{loc: l, time: t0.Add(-ago)} }
	now := func(l geo.Location) travelPoint { return travelPoint{loc: l, time: t0} }
	noisy := func(p travelPoint) travelPoint { p.noisy = true; return p }
	tests := []struct {
		name     string
		from, to travelPoint
		fired    bool
		weight   int
		detail   string
	}{
		{"Berlin to New York in 20 min", at(berlin, 20*time.Minute), now(nyc), true, 50, "6,385 km from last sign-in 20 min ago"},
		{"Berlin to New York in 12 h", at(berlin, 12*time.Hour), now(nyc), false, 0, ""},
		{"Berlin to Paris in 30 min", at(berlin, 30*time.Minute), now(paris), true, 50, "city-level"},
		{"Berlin to Paris in 3 h", at(berlin, 3*time.Hour), now(paris), false, 0, ""},
		{"Berlin to Munich in 10 min: domestic tolerance", at(berlin, 10*time.Minute), now(munich), false, 0, ""},
		{"same place", at(berlin, time.Minute), now(berlin), false, 0, ""},
		{"mobile network discounted", noisy(at(berlin, 20*time.Minute)), now(nyc), true, 10, "mobile or VPN network, discounted"},
		{"VPN at the new end discounted", at(berlin, 20*time.Minute), noisy(now(nyc)), true, 10, "discounted"},
		{"country level DE to US in 20 min", at(countryLoc("DE"), 20*time.Minute), now(countryLoc("US")), true, 50, "country-level"},
		{"country level DE to FR in 30 min: within tolerance", at(countryLoc("DE"), 30*time.Minute), now(countryLoc("FR")), false, 0, ""},
		{"country level same country", at(countryLoc("US"), time.Minute), now(countryLoc("US")), false, 0, ""},
		{"unknown previous location", at(geo.Location{}, time.Minute), now(nyc), false, 0, ""},
		{"unknown current location", at(berlin, time.Minute), now(geo.Location{}), false, 0, ""},
		{"clock skew: previous in the future", at(berlin, -time.Minute), now(nyc), true, 50, "0 s ago"},
	}
	for _, tt := range tests {
		r, ok := signalImpossibleTravel(c, tt.from, tt.to)
		check(t, tt.name, r, ok, tt.fired, tt.weight, tt.detail)
	}
	c.NoisyWeight = 0
	if _, ok := signalImpossibleTravel(c, noisy(at(berlin, 20*time.Minute)), now(nyc)); ok {
		t.Error("noisy with noisy_weight 0 fired")
	}
}

func TestSignalFailureCounters(t *testing.T) {
	acct := countSignal{Weight: 20, Threshold: 3, Window: 15 * time.Minute}
	ipf := countSignal{Weight: 30, Threshold: 5, Window: time.Minute}
	ipa := countSignal{Weight: 40, Threshold: 5, Window: 10 * time.Minute}
	for _, tt := range []struct {
		n     int
		fired bool
	}{{0, false}, {2, false}, {3, true}, {40, true}} {
		r, ok := signalAccountFailures(acct, tt.n)
		check(t, "account failures", r, ok, tt.fired, 20, "failed attempts on this account in 15 min")
	}
	for _, tt := range []struct {
		n      int
		fired  bool
		detail string
	}{{4, false, ""}, {4, false, ""}, {5, true, "6th attempt after 5 failures from this IP in 60 s"}, {20, true, "21st"}} {
		r, ok := signalIPFailures(ipf, tt.n)
		check(t, "ip failures", r, ok, tt.fired, 30, tt.detail)
	}
	for _, tt := range []struct {
		n     int
		fired bool
	}{{1, false}, {4, false}, {5, true}, {300, true}} {
		r, ok := signalIPAccounts(ipa, tt.n)
		check(t, "ip accounts", r, ok, tt.fired, 40, "accounts tried from this IP in 10 min")
	}
}

func TestLocalHour(t *testing.T) {
	tests := []struct {
		loc  geo.Location
		want int
	}{
		{geo.Location{}, 12},
		{berlin, 13},
		{nyc, 7},
		{cityLoc("JP", 35.68, 139.69, 20), 21},
		{cityLoc("NZ", -36.85, 174.76, 20), 0},
	}
	for _, tt := range tests {
		if got := localHour(t0, tt.loc); got != tt.want {
			t.Errorf("localHour at %+v = %d, want %d", tt.loc, got, tt.want)
		}
	}
}

func TestSignalUnusualHour(t *testing.T) {
	c := hourSignal{Weight: 10, MinSignIns: 10, MaxShare: 0.05}
	// 20 sign-ins in Berlin between 17:00 and 19:00 local.
	var past []SignIn
	for i := range 20 {
		past = append(past, SignIn{Time: time.Date(2026, 2, 1+i, 16+i%3, 0, 0, 0, time.UTC), Location: berlin})
	}
	at := func(h int) time.Time { return time.Date(2026, 3, 2, h, 30, 0, 0, time.UTC) }
	tests := []struct {
		name   string
		now    time.Time
		past   []SignIn
		fired  bool
		detail string
	}{
		{"usual evening", at(17), past, false, ""},
		{"an hour off the habit", at(19), past, false, ""},
		{"3 am local", at(2), past, true, "around 03:00 local time; 0 of the last 20"},
		{"too little history", at(2), past[:9], false, ""},
	}
	for _, tt := range tests {
		r, ok := signalUnusualHour(c, tt.now, berlin, tt.past)
		check(t, tt.name, r, ok, tt.fired, 10, tt.detail)
	}
	// Midnight wraps: 23:00 and 00:00 are neighbours.
	var late []SignIn
	for i := range 20 {
		late = append(late, SignIn{Time: time.Date(2026, 2, 1+i, 23, 10, 0, 0, time.UTC), Location: berlin}) // 00:10 local
	}
	if r, ok := signalUnusualHour(c, at(21), berlin, late); ok { // 22:00 local: two hours off, fires
		if !strings.Contains(r.Detail, "22:00") {
			t.Errorf("detail %q", r.Detail)
		}
	} else {
		t.Error("22:00 against a midnight habit did not fire")
	}
	if _, ok := signalUnusualHour(c, at(22), berlin, late); ok { // 23:00 local: within an hour of 00:00
		t.Error("23:00 against a midnight habit fired")
	}
}

func TestSignalUserAgentChange(t *testing.T) {
	c := weightOnly{Weight: 10}
	chromeWin := SignIn{Browser: "chrome", OS: "windows"}
	app := SignIn{Browser: "app", OS: "ios"}
	tests := []struct {
		name   string
		ua     string
		past   []SignIn
		fired  bool
		detail string
	}{
		{"same family, new version", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 Safari/537.36", []SignIn{chromeWin}, false, ""},
		{"seen among others", "AssentApp/3.4 (iOS 18.1)", []SignIn{chromeWin, app}, false, ""},
		{"firefox on linux", "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0", []SignIn{chromeWin, app}, true, "firefox on linux; last sign-in used chrome on windows"},
		{"script", "python-requests/2.32", []SignIn{chromeWin}, true, "app on other"},
		{"no header", "", []SignIn{chromeWin}, false, ""},
		{"no history", "curl/8", nil, false, ""},
	}
	for _, tt := range tests {
		r, ok := signalUserAgentChange(c, ParseUserAgent(tt.ua), tt.past)
		check(t, tt.name, r, ok, tt.fired, 10, tt.detail)
	}
}

func TestSignalReportedNotMe(t *testing.T) {
	c := reportSignal{Weight: 40, Within: 7 * 24 * time.Hour}
	tests := []struct {
		name   string
		last   time.Time
		fired  bool
		detail string
	}{
		{"never", time.Time{}, false, ""},
		{"2 h ago", t0.Add(-2 * time.Hour), true, "\"this wasn't me\" 2 h ago"},
		{"6 days ago", t0.Add(-6 * 24 * time.Hour), true, "6 days ago"},
		{"8 days ago", t0.Add(-8 * 24 * time.Hour), false, ""},
		{"in the future", t0.Add(time.Minute), false, ""},
	}
	for _, tt := range tests {
		r, ok := signalReportedNotMe(c, tt.last, t0)
		check(t, tt.name, r, ok, tt.fired, 40, tt.detail)
	}
}

func TestSignalAmountAnomaly(t *testing.T) {
	c := amountSignal{Weight: 30, Ratio: 5, MinPayments: 5, NoHistoryEURCents: 100000}
	usual := []int64{1000, 1200, 900, 1100, 1000, 5000, 800} // median EUR 10.00
	tests := []struct {
		name   string
		amount int64
		past   []int64
		payee  []int64
		fired  bool
		detail string
	}{
		{"usual", 1500, usual, nil, false, ""},
		{"just under 5x", 4999, usual, nil, false, ""},
		{"5x", 5000, usual, nil, true, "amount 5x this user's median (EUR 50.00 vs EUR 10.00)"},
		{"12x", 12000, usual, nil, true, "amount 12x this user's median"},
		{"usual for this payee", 80000, usual, []int64{79000}, false, ""},
		{"large even for this payee", 500000, usual, []int64{79000, 81000}, true, "median for this payee"},
		{"little history, small", 20000, []int64{1000}, nil, false, ""},
		{"little history, large", 150000, []int64{1000}, nil, true, "EUR 1,500.00 with only 1 past payments"},
		{"even count median", 5000, []int64{500, 700, 900, 1100, 1300, 1500}, nil, true, "vs EUR 10.00"},
	}
	for _, tt := range tests {
		r, ok := signalAmountAnomaly(c, tt.amount, append([]int64(nil), tt.past...), append([]int64(nil), tt.payee...))
		check(t, tt.name, r, ok, tt.fired, 30, tt.detail)
	}
}

func TestSignalNewPayee(t *testing.T) {
	c := weightOnly{Weight: 10}
	for _, tt := range []struct {
		trusted, known, fired bool
	}{{false, false, true}, {true, false, false}, {false, true, false}, {true, true, false}} {
		r, ok := signalNewPayee(c, tt.trusted, tt.known)
		check(t, "new payee", r, ok, tt.fired, 10, "new payee")
	}
}

func TestSignalPaymentVelocity(t *testing.T) {
	c := velocitySignal{Weight: 30, Window: 24 * time.Hour, MaxCount: 10, MaxEURCents: 500000}
	tests := []struct {
		name   string
		amount int64
		count  int
		sum    int64
		fired  bool
		detail string
	}{
		{"quiet", 1000, 2, 5000, false, ""},
		{"9th payment", 100, 8, 800, false, ""},
		{"10th payment", 100, 9, 900, true, "10th payment in 24 h (EUR 10.00 in total)"},
		{"sum just under", 1000, 1, 498999, false, ""},
		{"sum reached", 1000, 1, 499000, true, "EUR 5,000.00 in 2 payments in 24 h"},
	}
	for _, tt := range tests {
		r, ok := signalPaymentVelocity(c, tt.amount, tt.count, tt.sum)
		check(t, tt.name, r, ok, tt.fired, 30, tt.detail)
	}
}

func TestSignalIPLists(t *testing.T) {
	deny := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8:bad::/48")}
	allow := []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
	tests := []struct {
		ip            string
		denied, allow bool
	}{
		{"203.0.113.9", true, false},
		{"2001:db8:bad:1::1", true, false},
		{"198.51.100.20", false, true},
		{"8.8.8.8", false, false},
	}
	for _, tt := range tests {
		ip := netip.MustParseAddr(tt.ip)
		r, ok := signalIPDenied(deny, ip)
		check(t, "deny "+tt.ip, r, ok, tt.denied, 0, "denied network")
		r, ok = signalIPAllowed(allow, 20, ip)
		check(t, "allow "+tt.ip, r, ok, tt.allow, -20, "allowed network 198.51.100.0/24")
	}
	if _, ok := signalIPDenied(deny, netip.Addr{}); ok {
		t.Error("zero address denied")
	}
}

func TestParseUserAgent(t *testing.T) {
	tests := []struct{ ua, browser, os string }{
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36", "chrome", "windows"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0", "edge", "windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "safari", "macos"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "safari", "ios"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/130.0 Mobile/15E148 Safari/604.1", "chrome", "ios"},
		{"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0 Mobile Safari/537.36", "samsung", "android"},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0", "firefox", "linux"},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36", "chrome", "chromeos"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36 OPR/115.0", "opera", "windows"},
		{"AssentApp/3.4 (Android 14; Pixel 8)", "app", "android"},
		{"okhttp/4.12.0", "app", "android"},
		{"python-requests/2.32.3", "app", "other"},
		{"", "", ""},
	}
	for _, tt := range tests {
		got := ParseUserAgent(tt.ua)
		if got.Browser != tt.browser || got.OS != tt.os {
			t.Errorf("ParseUserAgent(%q) = %+v, want %s on %s", tt.ua, got, tt.browser, tt.os)
		}
	}
	if n := testing.AllocsPerRun(100, func() { ParseUserAgent(tests[0].ua) }); n != 0 {
		t.Errorf("ParseUserAgent allocates %v times", n)
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{groupInt(0), "0"}, {groupInt(999), "999"}, {groupInt(1840), "1,840"}, {groupInt(-1234567), "-1,234,567"},
		{eur(3000), "EUR 30.00"}, {eur(3001), "EUR 30.01"}, {eur(150000), "EUR 1,500.00"}, {eur(5), "EUR 0.05"},
		{span(45 * time.Second), "45 s"}, {span(time.Minute), "60 s"}, {span(20 * time.Minute), "20 min"}, {span(5 * time.Hour), "5 h"}, {span(72 * time.Hour), "3 days"},
		{ordinal(1), "1st"}, {ordinal(2), "2nd"}, {ordinal(3), "3rd"}, {ordinal(5), "5th"}, {ordinal(11), "11th"}, {ordinal(12), "12th"}, {ordinal(21), "21st"}, {ordinal(112), "112th"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
