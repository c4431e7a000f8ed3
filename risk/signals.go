package risk

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/assent-auth/assent/risk/geo"
)

// Each signal is a small pure function of its configuration and the facts
// it needs. It reports whether it fired and, if so, the Reason with its
// weight and a detail for people. A signal with weight 0 never fires.

func signalUnknownDevice(c deviceSignal, deviceID string, firstSeen, now time.Time) (Reason, bool) {
	if c.Weight == 0 {
		return Reason{}, false
	}
	r := Reason{Code: CodeUnknownDevice, Weight: c.Weight}
	switch {
	case deviceID == "":
		r.Detail = "new device (no device cookie or app id)"
	case firstSeen.IsZero():
		r.Detail = "new device"
	case now.Sub(firstSeen) < c.MinAge:
		r.Detail = "device first seen " + span(max(0, now.Sub(firstSeen))) + " ago"
	default:
		return Reason{}, false
	}
	return r, true
}

func countryName(code string) string {
	if c, ok := geo.LookupCountry(code); ok {
		return c.Name
	}
	return code
}

func signalNewCountry(c weightOnly, loc geo.Location, past []SignIn) (Reason, bool) {
	if c.Weight == 0 || !loc.Known() {
		return Reason{}, false
	}
	compared := false
	for i := range past {
		l := &past[i].Location
		if !l.Known() {
			continue
		}
		if l.Country == loc.Country {
			return Reason{}, false
		}
		compared = true
	}
	if !compared {
		return Reason{}, false // nothing to compare with: not "new"
	}
	return Reason{
		Code:   CodeNewCountry,
		Weight: c.Weight,
		Detail: fmt.Sprintf("first sign-in from %s (%s-level location)", countryName(loc.Country), loc.Precision),
	}, true
}

// travelPoint is one end of a journey.
type travelPoint struct {
	loc   geo.Location
	noisy bool // mobile, VPN, hosting, or a configured noisy network
	time  time.Time
}

func signalImpossibleTravel(c travelSignal, from, to travelPoint) (Reason, bool) {
	if c.Weight == 0 || !from.loc.Known() || !to.loc.Known() {
		return Reason{}, false
	}
	km, uncertainty := geo.Distance(from.loc, to.loc)
	precision := min(from.loc.Precision, to.loc.Precision)
	tolerance := uncertainty + c.CityToleranceKm
	if precision == geo.PrecisionCountry {
		tolerance = uncertainty + c.CountryToleranceKm
	}
	if from.loc.Country == to.loc.Country {
		tolerance += c.DomesticToleranceKm
	}
	beyond := km - tolerance
	if beyond <= 0 {
		return Reason{}, false
	}
	elapsed := to.time.Sub(from.time)
	hours := math.Max(elapsed.Hours(), 1.0/60) // a minute at least
	speed := beyond / hours
	if speed <= c.MaxKmh {
		return Reason{}, false
	}
	r := Reason{Code: CodeImpossibleTravel, Weight: c.Weight}
	noise := ""
	if from.noisy || to.noisy {
		r.Weight = c.NoisyWeight
		noise = "; mobile or VPN network, discounted"
		if r.Weight == 0 {
			return Reason{}, false
		}
	}
	r.Detail = fmt.Sprintf("%s km from last sign-in %s ago (at least %s km/h; %s-level%s)",
		groupInt(int64(math.Round(km))), span(max(0, elapsed)), groupInt(int64(math.Round(speed))), precision, noise)
	return r, true
}

func signalAccountFailures(c countSignal, failures int) (Reason, bool) {
	if c.Weight == 0 || failures < c.Threshold {
		return Reason{}, false
	}
	return Reason{Code: CodeAccountFailures, Weight: c.Weight,
		Detail: fmt.Sprintf("%d failed attempts on this account in %s", failures, span(c.Window))}, true
}

func signalIPFailures(c countSignal, failures int) (Reason, bool) {
	if c.Weight == 0 || failures < c.Threshold {
		return Reason{}, false
	}
	return Reason{Code: CodeIPFailures, Weight: c.Weight,
		Detail: fmt.Sprintf("%s attempt after %d failures from this IP in %s", ordinal(failures+1), failures, span(c.Window))}, true
}

func signalIPAccounts(c countSignal, accounts int) (Reason, bool) {
	if c.Weight == 0 || accounts < c.Threshold {
		return Reason{}, false
	}
	return Reason{Code: CodeIPAccounts, Weight: c.Weight,
		Detail: fmt.Sprintf("%d accounts tried from this IP in %s", accounts, span(c.Window))}, true
}

// localHour estimates the local hour of t at loc from its longitude (solar
// time, good to an hour or two, enough for habits); UTC when unknown.
func localHour(t time.Time, loc geo.Location) int {
	h := int((t.Unix()%86400+86400)%86400) / 3600
	if loc.Known() {
		h += int(math.Round(loc.Lon / 15))
	}
	return ((h % 24) + 24) % 24
}

func signalUnusualHour(c hourSignal, now time.Time, loc geo.Location, past []SignIn) (Reason, bool) {
	if c.Weight == 0 || len(past) < c.MinSignIns {
		return Reason{}, false
	}
	h := localHour(now, loc)
	near := 0
	for i := range past {
		d := localHour(past[i].Time, past[i].Location) - h
		if d < 0 {
			d = -d
		}
		if d <= 1 || d >= 23 {
			near++
		}
	}
	if float64(near) > c.MaxShare*float64(len(past)) {
		return Reason{}, false
	}
	return Reason{Code: CodeUnusualHour, Weight: c.Weight,
		Detail: fmt.Sprintf("around %02d:00 local time; %d of the last %d sign-ins were within an hour of it", h, near, len(past))}, true
}

func signalUserAgentChange(c weightOnly, ua UserAgent, past []SignIn) (Reason, bool) {
	if c.Weight == 0 || ua.Browser == "" {
		return Reason{}, false
	}
	var usual UserAgent
	for i := range past {
		p := &past[i]
		if p.Browser == "" {
			continue
		}
		if p.Browser == ua.Browser && p.OS == ua.OS {
			return Reason{}, false
		}
		if usual.Browser == "" {
			usual = UserAgent{Browser: p.Browser, OS: p.OS}
		}
	}
	if usual.Browser == "" {
		return Reason{}, false
	}
	return Reason{Code: CodeUserAgentChange, Weight: c.Weight,
		Detail: fmt.Sprintf("%s; last sign-in used %s", ua, usual)}, true
}

func signalReportedNotMe(c reportSignal, last, now time.Time) (Reason, bool) {
	if c.Weight == 0 || last.IsZero() || now.Sub(last) > c.Within || last.After(now) {
		return Reason{}, false
	}
	return Reason{Code: CodeReportedNotMe, Weight: c.Weight,
		Detail: fmt.Sprintf("user reported \"this wasn't me\" %s ago", span(now.Sub(last)))}, true
}

// signalAmountAnomaly compares amount (euro cents) with the user's past
// payments in euro cents: with the payee's own when there are any
// (rent is large but usual), else with all of them. Both slices are
// reordered.
func signalAmountAnomaly(c amountSignal, amount int64, past, samePayee []int64) (Reason, bool) {
	if c.Weight == 0 {
		return Reason{}, false
	}
	what := "this user's median"
	if len(samePayee) >= 1 {
		past, what = samePayee, "this user's median for this payee"
	} else if len(past) < c.MinPayments {
		if amount < c.NoHistoryEURCents {
			return Reason{}, false
		}
		return Reason{Code: CodeAmountAnomaly, Weight: c.Weight,
			Detail: fmt.Sprintf("%s with only %d past payments", eur(amount), len(past))}, true
	}
	median := medianOf(past)
	ratio := float64(amount) / float64(median)
	if ratio < c.Ratio {
		return Reason{}, false
	}
	return Reason{Code: CodeAmountAnomaly, Weight: c.Weight,
		Detail: fmt.Sprintf("amount %.0fx %s (%s vs %s)", math.Floor(ratio), what, eur(amount), eur(median))}, true
}

// medianOf sorts s and returns its median, at least 1.
func medianOf(s []int64) int64 {
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + m) / 2
	}
	return max(m, 1)
}

func signalNewPayee(c weightOnly, trusted, known bool) (Reason, bool) {
	if c.Weight == 0 || trusted || known {
		return Reason{}, false
	}
	return Reason{Code: CodeNewPayee, Weight: c.Weight, Detail: "new payee"}, true
}

// signalPaymentVelocity counts this payment (amount, euro cents) with the
// count and sum of the user's payments in the window before it.
func signalPaymentVelocity(c velocitySignal, amount int64, count int, sum int64) (Reason, bool) {
	if c.Weight == 0 {
		return Reason{}, false
	}
	count++
	sum += amount
	switch {
	case count >= c.MaxCount:
		return Reason{Code: CodePaymentVelocity, Weight: c.Weight,
			Detail: fmt.Sprintf("%s payment in %s (%s in total)", ordinal(count), span(c.Window), eur(sum))}, true
	case sum >= c.MaxEURCents:
		return Reason{Code: CodePaymentVelocity, Weight: c.Weight,
			Detail: fmt.Sprintf("%s in %d payments in %s", eur(sum), count, span(c.Window))}, true
	}
	return Reason{}, false
}

// networkListed reports whether ip falls in one of the prefixes.
func networkListed(list []netip.Prefix, ip netip.Addr) (netip.Prefix, bool) {
	if !ip.IsValid() {
		return netip.Prefix{}, false
	}
	for _, p := range list {
		if p.Contains(ip) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

func signalIPDenied(deny []netip.Prefix, ip netip.Addr) (Reason, bool) {
	p, ok := networkListed(deny, ip)
	if !ok {
		return Reason{}, false
	}
	return Reason{Code: CodeIPDenylisted, Weight: 0, Detail: "IP in denied network " + p.String()}, true
}

func signalIPAllowed(allow []netip.Prefix, weight int, ip netip.Addr) (Reason, bool) {
	p, ok := networkListed(allow, ip)
	if !ok || weight == 0 {
		return Reason{}, false
	}
	return Reason{Code: CodeIPAllowlisted, Weight: -weight, Detail: "IP in allowed network " + p.String()}, true
}
