package eval

import (
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/assent-auth/assent/risk"
)

// attackerCities are where attackers operate from when abroad.
var attackerCities = [...]string{"Lagos", "Moscow", "Bucharest", "Hanoi", "Sao Paulo", "New York", "Singapore", "Dubai", "Bangkok", "London", "Prague", "San Francisco"}

func cityIndex(name string) int {
	for i, c := range cities {
		if c.name == name {
			return i
		}
	}
	panic("eval: no city " + name)
}

// at returns a random instant in the measured window.
func (g *generator) at() time.Time {
	span := g.end.Sub(g.measure) - 6*time.Hour
	return g.measure.Add(time.Duration(g.r.Int64N(int64(span))))
}

func (g *generator) victim() *customer { return g.custs[g.pick(len(g.custs))] }

// foreignCity returns an attacker city outside country.
func (g *generator) foreignCity(country string) int {
	for {
		c := cityIndex(attackerCities[g.pick(len(attackerCities))])
		if cities[c].country != country {
			return c
		}
	}
}

// domesticCity returns another city of the victim's country, or the home
// city when the country has only one.
func (g *generator) domesticCity(v *customer) int {
	var same []int
	for i, c := range cities {
		if c.country == cities[v.home].country && i != v.home {
			same = append(same, i)
		}
	}
	if len(same) == 0 {
		return v.home
	}
	return same[g.pick(len(same))]
}

// attackerIP returns a residential (proxy or botnet) or hosting address in
// the city.
func (g *generator) attackerIP(city int) netip.Addr {
	if g.r.Float64() < 0.5 {
		return hostingIP(city, 200+g.pick(50), 1+g.pick(250))
	}
	return residentialIP(city, 1+g.pick(250), 1+g.pick(250))
}

func (g *generator) attackerUA() string {
	if g.r.Float64() < 0.3 {
		return "python-requests/2.32.3"
	}
	return desktopUAs[g.pick(len(desktopUAs))]
}

func attackEvent(kind risk.Kind, user string, t time.Time, ip netip.Addr, ua, deviceID string, ch risk.Channel) risk.Event {
	return risk.Event{Kind: kind, UserID: user, Time: t, IP: ip.String(), UserAgent: ua, DeviceID: deviceID, Channel: ch, ClientID: "bank-" + string(ch)}
}

// stolenPayment is a payment an attacker makes from the victim's account:
// to a new payee, several times the victim's usual amount.
func (g *generator) stolenPayment(v *customer, ev risk.Event, lo, hi float64) risk.Event {
	ev.Kind = risk.KindPayment
	eurAmount := math.Max(150, v.median*(lo+(hi-lo)*g.r.Float64()))
	ev.Payment = risk.Payment{
		Amount:     int64(math.Round(eurAmount / v.rate * 100)),
		Currency:   v.currency,
		Payee:      fmt.Sprintf("mule-%d", g.pick(1000000)),
		Instrument: risk.InstrumentCreditTransfer,
	}
	return ev
}

func (g *generator) attacks(campaigns int) {
	// Credential stuffing: a botnet tries leaked passwords on many accounts.
	for range max(1, campaigns/10) {
		t0 := g.at()
		for range 15 {
			city := g.pick(len(cities))
			ip := g.attackerIP(city)
			ua := g.attackerUA()
			t := t0.Add(time.Duration(g.pick(1800)) * time.Second)
			for range 15 + g.pick(20) {
				t = t.Add(time.Duration(20+g.pick(70)) * time.Second)
				it := item{attack: AttackCredentialStuffing}
				user := ""
				if g.r.Float64() < 0.75 {
					it.cust = g.victim()
					user = it.cust.id
					it.passwordOK = g.r.Float64() < 0.02
				} else {
					g.ghosts++
					user = fmt.Sprintf("ghost-%05d", g.ghosts)
				}
				it.ev = attackEvent(risk.KindLogin, user, t, ip, ua, "", risk.ChannelWeb)
				g.add(it)
			}
		}
	}
	for range campaigns {
		// Account takeover: a phished password used from abroad on a new device.
		v := g.victim()
		t := g.at()
		city := g.foreignCity(cities[v.home].country)
		ip := g.attackerIP(city)
		ua := desktopUAs[g.pick(len(desktopUAs))]
		login := attackEvent(risk.KindLogin, v.id, t, ip, ua, "", risk.ChannelWeb)
		g.add(item{attack: AttackAccountTakeover, cust: v, passwordOK: true, ev: login})
		pay := login
		pay.Time = t.Add(time.Duration(120+g.pick(600)) * time.Second)
		g.add(item{attack: AttackAccountTakeover, cust: v, passwordOK: true, ev: g.stolenPayment(v, pay, 5, 30)})
	}
	for range campaigns {
		// SIM swap: account recovery and a new app device from the victim's
		// own country, then a large payment from that device.
		v := g.victim()
		t := g.at()
		city := g.domesticCity(v)
		ip := residentialIP(city, 1+g.pick(250), 1+g.pick(250))
		dev := fmt.Sprintf("%s-atk-app-%d", v.id, g.pick(1000000))
		ua := appUAs[1]
		g.add(item{attack: AttackSIMSwap, cust: v, passwordOK: true, ev: attackEvent(risk.KindRecovery, v.id, t, ip, ua, "", risk.ChannelApp)})
		t = t.Add(time.Duration(60+g.pick(240)) * time.Second)
		g.add(item{attack: AttackSIMSwap, cust: v, passwordOK: true, enroll: dev, bypass: true, ev: attackEvent(risk.KindEnrollment, v.id, t, ip, ua, dev, risk.ChannelApp)})
		t = t.Add(time.Duration(60+g.pick(300)) * time.Second)
		login := attackEvent(risk.KindLogin, v.id, t, ip, ua, dev, risk.ChannelApp)
		g.add(item{attack: AttackSIMSwap, cust: v, passwordOK: true, ev: login})
		for range 1 + g.pick(2) {
			login.Time = login.Time.Add(time.Duration(60+g.pick(900)) * time.Second)
			g.add(item{attack: AttackSIMSwap, cust: v, passwordOK: true, ev: g.stolenPayment(v, login, 5, 40)})
		}
	}
	for range campaigns {
		// Card testing: many tiny card payments to different merchants.
		v := g.victim()
		t := g.at()
		city := g.pick(len(cities))
		ip := g.attackerIP(city)
		ua := g.attackerUA()
		for range 15 + g.pick(25) {
			t = t.Add(time.Duration(15+g.pick(120)) * time.Second)
			ev := attackEvent(risk.KindPayment, v.id, t, ip, ua, "", risk.ChannelWeb)
			ev.Payment = risk.Payment{
				Amount:     int64(50 + g.pick(250)),
				Currency:   "EUR",
				Payee:      fmt.Sprintf("merchant-%d", g.pick(1000000)),
				Instrument: risk.InstrumentCard,
			}
			g.add(item{attack: AttackCardTesting, cust: v, passwordOK: true, ev: ev})
		}
	}
	for range campaigns {
		// Impossible travel: stolen password and device cookie (an
		// infostealer), used on another continent soon after the victim
		// signed in.
		v, after := g.victimWithLogin()
		if v == nil {
			continue
		}
		city := g.far(v.home)
		ip := g.attackerIP(city)
		t := after.ev.Time.Add(time.Duration(15+g.pick(105)) * time.Minute)
		login := attackEvent(risk.KindLogin, v.id, t, ip, after.ev.UserAgent, after.ev.DeviceID, after.ev.Channel)
		g.add(item{attack: AttackImpossibleTravel, cust: v, passwordOK: true, ev: login})
		login.Time = t.Add(time.Duration(60+g.pick(600)) * time.Second)
		g.add(item{attack: AttackImpossibleTravel, cust: v, passwordOK: true, ev: g.stolenPayment(v, login, 3, 20)})
	}
	for range campaigns {
		// Stolen session: the session and device cookies replayed from
		// elsewhere, abroad or through a proxy in the victim's country.
		v, after := g.victimWithLogin()
		if v == nil {
			continue
		}
		city := g.foreignCity(cities[v.home].country)
		ip := g.attackerIP(city)
		if g.r.Float64() < 0.45 {
			city = g.domesticCity(v)
			ip = residentialIP(city, 1+g.pick(250), 1+g.pick(250))
		}
		t := after.ev.Time.Add(time.Duration(60+g.pick(36*60)) * time.Minute)
		login := attackEvent(risk.KindLogin, v.id, t, ip, after.ev.UserAgent, after.ev.DeviceID, after.ev.Channel)
		g.add(item{attack: AttackStolenSession, cust: v, passwordOK: true, ev: login})
		for range 1 + g.pick(2) {
			login.Time = login.Time.Add(time.Duration(60+g.pick(900)) * time.Second)
			g.add(item{attack: AttackStolenSession, cust: v, passwordOK: true, ev: g.stolenPayment(v, login, 2, 15)})
		}
	}
}

// victimWithLogin picks a customer with a measured genuine sign-in and that
// sign-in.
func (g *generator) victimWithLogin() (*customer, item) {
	for range 100 {
		v := g.victim()
		if len(v.logins_) > 0 {
			return v, v.logins_[g.pick(len(v.logins_))]
		}
	}
	return nil, item{}
}

// far returns an attacker city at least 3,000 km from home.
func (g *generator) far(home int) int {
	for {
		c := cityIndex(attackerCities[g.pick(len(attackerCities))])
		if flightTime(home, c) > 6*time.Hour {
			return c
		}
	}
}
