package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/assent-auth/assent/risk"
	"github.com/assent-auth/assent/risk/geo"
)

// Attack types.
const (
	AttackCredentialStuffing = "credential_stuffing"
	AttackAccountTakeover    = "account_takeover"
	AttackSIMSwap            = "sim_swap"
	AttackCardTesting        = "card_testing"
	AttackImpossibleTravel   = "impossible_travel"
	AttackStolenSession      = "stolen_session"
)

// AttackTypes lists the attack types in report order.
func AttackTypes() []string {
	return []string{
		AttackCredentialStuffing, AttackAccountTakeover, AttackSIMSwap,
		AttackCardTesting, AttackImpossibleTravel, AttackStolenSession,
	}
}

// item is one event of the synthetic traffic with what happens next.
type item struct {
	ev     risk.Event
	attack string    // "" for genuine traffic
	cust   *customer // the account holder (nil for an account that does not exist)
	// passwordOK is false for an attacker's wrong guess.
	passwordOK bool
	// typo adds a failed attempt just before a genuine sign-in.
	typo bool
	// enroll is the device an enrollment adds; bypass adds it whatever the
	// decision (an enrollment done outside the assessed flow, as in a SIM swap).
	enroll string
	bypass bool
	seq    int
}

type device struct {
	id      string
	ua      string
	channel risk.Channel
}

type payee struct {
	id      string
	trusted bool
	typical float64 // EUR
}

type trip struct {
	depart, arrive, leave, back time.Time
	city                        int
}

type customer struct {
	id        string
	home      int
	homeIP    netip.Addr
	carrier   int
	hasLaptop bool
	laptop    device
	phone     device
	meanHour  float64 // local
	sdHour    float64
	logins    float64 // per day
	payProb   float64 // chance a sign-in is followed by payments
	median    float64 // EUR
	payees    []payee
	rent      payee
	rentDay   int
	trips     float64 // per year
	vpnCity   int     // -1: no VPN
	webShare  float64
	cardShare float64
	currency  string
	rate      float64 // EUR per major unit of currency
	churn     int
	// genuine sign-ins in the measured window, for attacks that follow one
	logins_ []item
}

// localRates are the generator's own view of exchange rates.
var localRates = map[string]float64{"PL": 0.23, "SE": 0.087, "DK": 0.134}
var localCurrency = map[string]string{"PL": "PLN", "SE": "SEK", "DK": "DKK"}

type generator struct {
	r       *rand.Rand
	start   time.Time // first day of warm-up
	measure time.Time // first measured instant
	end     time.Time
	items   []item
	custs   []*customer
	seq     int
	ghosts  int
}

func (g *generator) add(it item) {
	g.seq++
	it.seq = g.seq
	g.items = append(g.items, it)
}

func (g *generator) lognormal(median, sigma float64) float64 {
	return median * math.Exp(sigma*g.r.NormFloat64())
}

func (g *generator) poisson(lambda float64) int {
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= g.r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func (g *generator) pick(n int) int { return g.r.IntN(n) }

func (g *generator) newCustomer(i int) *customer {
	home := g.pick(homeCities)
	c := &customer{
		id:        fmt.Sprintf("user-%05d", i),
		home:      home,
		homeIP:    residentialIP(home, 1+g.pick(250), 1+g.pick(250)),
		carrier:   carrierOf(cities[home].country),
		hasLaptop: g.r.Float64() < 0.8,
		meanHour:  math.Min(21, math.Max(8, 14+3*g.r.NormFloat64())),
		sdHour:    1.5 + 2*g.r.Float64(),
		logins:    math.Min(4, math.Max(0.2, g.lognormal(0.9, 0.6))),
		payProb:   0.25 + 0.5*g.r.Float64(),
		median:    math.Min(150, math.Max(8, g.lognormal(30, 0.6))),
		rentDay:   1 + g.pick(28),
		trips:     g.r.ExpFloat64() * 3,
		vpnCity:   -1,
		webShare:  0.2 + 0.5*g.r.Float64(),
		cardShare: 0.3 + 0.5*g.r.Float64(),
		currency:  "EUR",
		rate:      1,
	}
	if cur, ok := localCurrency[cities[home].country]; ok {
		c.currency, c.rate = cur, localRates[cities[home].country]
	}
	c.laptop = device{id: c.id + "-web-0", ua: desktopUAs[g.pick(len(desktopUAs))], channel: risk.ChannelWeb}
	c.phone = device{id: c.id + "-app-0", ua: appUAs[g.pick(len(appUAs))], channel: risk.ChannelApp}
	if g.r.Float64() < 0.05 {
		for {
			c.vpnCity = g.pick(len(cities))
			if cities[c.vpnCity].country != cities[home].country {
				break
			}
		}
	}
	for j := range 3 + g.pick(10) {
		c.payees = append(c.payees, payee{id: fmt.Sprintf("%s-payee-%d", c.id, j), typical: g.lognormal(c.median, 0.5)})
	}
	c.rent = payee{id: c.id + "-landlord", trusted: true, typical: 400 + 1100*g.r.Float64()}
	return c
}

func flightTime(a, b int) time.Duration {
	km := geo.DistanceKm(cities[a].lat, cities[a].lon, cities[b].lat, cities[b].lon)
	return time.Duration((km/750 + 2.5) * float64(time.Hour))
}

// offset returns the local solar offset of a city.
func offset(c int) time.Duration {
	return time.Duration(math.Round(cities[c].lon/15)) * time.Hour
}

// planTrips draws the customer's journeys over the whole period.
func (g *generator) planTrips(c *customer) []trip {
	var trips []trip
	days := int(g.end.Sub(g.start).Hours() / 24)
	for d := 0; d < days; d++ {
		if g.r.Float64() >= c.trips/365 {
			continue
		}
		dest := g.pick(len(cities))
		domestic := g.r.Float64() < 0.5
		for tries := 0; tries < 50; tries++ {
			dest = g.pick(len(cities))
			same := cities[dest].country == cities[c.home].country
			if dest != c.home && same == domestic {
				break
			}
		}
		if dest == c.home {
			continue
		}
		n := 2 + g.pick(9)
		day := g.start.Add(time.Duration(d) * 24 * time.Hour)
		depart := day.Add(time.Duration(7+g.pick(6))*time.Hour - offset(c.home))
		arrive := depart.Add(flightTime(c.home, dest))
		leave := day.Add(time.Duration(n)*24*time.Hour + time.Duration(13+g.pick(6))*time.Hour - offset(dest))
		back := leave.Add(flightTime(dest, c.home))
		trips = append(trips, trip{depart: depart, arrive: arrive, leave: leave, back: back, city: dest})
		d += n + 1
	}
	return trips
}

// where returns the city the customer is in at t, or -1 in the air.
func where(c *customer, trips []trip, t time.Time) int {
	for _, tr := range trips {
		switch {
		case t.Before(tr.depart):
			return c.home
		case t.Before(tr.arrive):
			return -1
		case t.Before(tr.leave):
			return tr.city
		case t.Before(tr.back):
			return -1
		}
	}
	return c.home
}

// genuine generates one customer's own traffic.
func (g *generator) genuine(c *customer) {
	trips := g.planTrips(c)
	days := int(g.end.Sub(g.start).Hours() / 24)
	for d := 0; d < days; d++ {
		day := g.start.Add(time.Duration(d) * 24 * time.Hour)
		// a new phone now and then: enroll it, retire the old one
		if g.r.Float64() < 1.0/600 {
			t := day.Add(time.Duration(9+g.pick(12))*time.Hour - offset(c.home))
			if city := where(c, trips, t); city >= 0 {
				c.churn++
				c.phone = device{id: fmt.Sprintf("%s-app-%d", c.id, c.churn), ua: appUAs[g.pick(len(appUAs))], channel: risk.ChannelApp}
				g.add(item{cust: c, passwordOK: true, enroll: c.phone.id, ev: g.event(c, risk.KindEnrollment, t, c.phone, g.ipAt(c, city, c.phone))})
			}
		}
		if g.r.Float64() < 1.0/400 {
			t := day.Add(time.Duration(9+g.pick(12))*time.Hour - offset(c.home))
			if city := where(c, trips, t); city >= 0 {
				dev := g.pickDevice(c, city)
				g.add(item{cust: c, passwordOK: true, ev: g.event(c, risk.KindRecovery, t, dev, g.ipAt(c, city, dev))})
			}
		}
		rentDue := day.Day() == c.rentDay
		n := g.poisson(c.logins)
		if rentDue && n == 0 {
			n = 1
		}
		for range n {
			h := c.meanHour + c.sdHour*g.r.NormFloat64()
			if g.r.Float64() < 0.03 {
				h = 24 * g.r.Float64()
			}
			h = math.Mod(h+24, 24)
			city := where(c, trips, day.Add(time.Duration(h*float64(time.Hour))-offset(c.home)))
			if city < 0 {
				continue
			}
			t := day.Add(time.Duration(h*float64(time.Hour)) - offset(city)).Add(time.Duration(g.pick(3600)) * time.Second)
			if where(c, trips, t) != city {
				continue
			}
			dev := g.pickDevice(c, city)
			ip := g.ipAt(c, city, dev)
			it := item{cust: c, passwordOK: true, typo: dev.channel == risk.ChannelWeb && g.r.Float64() < 0.06,
				ev: g.event(c, risk.KindLogin, t, dev, ip)}
			g.add(it)
			if !t.Before(g.measure) {
				c.logins_ = append(c.logins_, it)
			}
			payments := 0
			if g.r.Float64() < c.payProb {
				payments = 1 + g.poisson(0.3)
			}
			at := t
			for range payments {
				at = at.Add(time.Duration(30+g.pick(480)) * time.Second)
				g.add(item{cust: c, passwordOK: true, ev: g.payment(c, at, dev, ip, false)})
			}
			if rentDue {
				rentDue = false
				at = at.Add(time.Duration(30+g.pick(300)) * time.Second)
				g.add(item{cust: c, passwordOK: true, ev: g.payment(c, at, dev, ip, true)})
			}
		}
	}
}

func (g *generator) pickDevice(c *customer, city int) device {
	webShare := c.webShare
	if city != c.home {
		webShare *= 0.3 // the laptop mostly stays at home
	}
	if c.hasLaptop && g.r.Float64() < webShare {
		if g.r.Float64() < 0.02 { // cleared cookies, a new browser profile
			c.churn++
			c.laptop.id = fmt.Sprintf("%s-web-%d", c.id, c.churn)
		}
		return c.laptop
	}
	if g.r.Float64() < 0.1 { // the phone's browser, without the app
		return device{id: c.phone.id + "-browser", ua: mobileWebUAs[g.pick(len(mobileWebUAs))], channel: risk.ChannelWeb}
	}
	return c.phone
}

// ipAt returns the address the customer's device has in a city.
func (g *generator) ipAt(c *customer, city int, dev device) netip.Addr {
	home := city == c.home
	switch {
	case dev.channel == risk.ChannelWeb && dev.id == c.laptop.id:
		if home && c.vpnCity >= 0 && g.r.Float64() < 0.3 {
			return hostingIP(c.vpnCity, 7, 1+g.pick(250))
		}
		if home {
			return c.homeIP
		}
		return residentialIP(city, 1+g.pick(250), 1+g.pick(250)) // hotel or friend's wifi
	case home:
		if g.r.Float64() < 0.5 {
			return c.homeIP
		}
		return mobileIP(c.carrier, 1+g.pick(250), 1+g.pick(250))
	case cities[city].country == cities[c.home].country:
		if g.r.Float64() < 0.6 {
			return mobileIP(c.carrier, 1+g.pick(250), 1+g.pick(250))
		}
		return residentialIP(city, 1+g.pick(250), 1+g.pick(250))
	default: // abroad: EU roaming goes out through the home carrier
		if g.r.Float64() < 0.5 {
			return mobileIP(c.carrier, 1+g.pick(250), 1+g.pick(250))
		}
		return residentialIP(city, 1+g.pick(250), 1+g.pick(250))
	}
}

func (g *generator) event(c *customer, kind risk.Kind, t time.Time, dev device, ip netip.Addr) risk.Event {
	return risk.Event{
		Kind: kind, UserID: c.id, Time: t, IP: ip.String(), UserAgent: dev.ua,
		DeviceID: dev.id, Channel: dev.channel, ClientID: "bank-" + string(dev.channel),
	}
}

func (g *generator) payment(c *customer, t time.Time, dev device, ip netip.Addr, rent bool) risk.Event {
	ev := g.event(c, risk.KindPayment, t, dev, ip)
	var p payee
	switch x := g.r.Float64(); {
	case rent:
		p = c.rent
	case x < 0.8:
		p = c.payees[g.pick(len(c.payees))]
	default:
		p = payee{id: fmt.Sprintf("%s-payee-%d", c.id, len(c.payees)+g.pick(1000000)), typical: c.median}
		if g.r.Float64() < 0.4 {
			c.payees = append(c.payees, p)
		}
	}
	eurAmount := g.lognormal(p.typical, 0.6)
	if rent {
		eurAmount = p.typical
	}
	inst := risk.InstrumentCreditTransfer
	if !rent && g.r.Float64() < c.cardShare {
		inst = risk.InstrumentCard
	}
	ev.Payment = risk.Payment{
		Amount:       max(1, int64(math.Round(eurAmount/c.rate*100))),
		Currency:     c.currency,
		Payee:        p.id,
		PayeeTrusted: p.trusted,
		Instrument:   inst,
	}
	return ev
}
