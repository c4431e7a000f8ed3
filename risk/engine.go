package risk

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/assent-auth/assent/risk/geo"
)

// PolicySource gives the policy to assess with. *Policy (a fixed policy) and
// *Reloader (a policy swapped at run time) implement it.
type PolicySource interface {
	Current() *Policy
}

// Locator places an IP address. geo.CountryDB and *geo.CityDB implement it.
// Assess never calls it with a non-routable address.
type Locator interface {
	Locate(ip netip.Addr) geo.Location
}

// Config is what an Engine is built from.
type Config struct {
	// Policy is required.
	Policy PolicySource
	// History is required.
	History History
	// Locator defaults to geo.CountryDB.
	Locator Locator
	// Now defaults to time.Now; it stamps events that carry no time.
	Now func() time.Time
}

// Engine assesses events. It is safe for concurrent use.
type Engine struct {
	policy  PolicySource
	history History
	locator Locator
	now     func() time.Time
	pool    sync.Pool // *scratch
}

// scratch holds the buffers one assessment needs, reused across calls.
type scratch struct {
	user    UserFacts
	net     NetworkFacts
	reasons []Reason
	amounts []int64
	payee   []int64
}

func (s *scratch) add(r Reason, ok bool) {
	if ok {
		s.reasons = append(s.reasons, r)
	}
}

// NewEngine returns an engine; it fails if Policy or History is missing.
func NewEngine(c Config) (*Engine, error) {
	if c.Policy == nil || c.Policy.Current() == nil {
		return nil, errors.New("risk: engine needs a policy")
	}
	if c.History == nil {
		return nil, errors.New("risk: engine needs a history")
	}
	e := &Engine{policy: c.Policy, history: c.History, locator: c.Locator, now: c.Now}
	if e.locator == nil {
		e.locator = geo.CountryDB{}
	}
	if e.now == nil {
		e.now = time.Now
	}
	e.pool.New = func() any {
		return &scratch{reasons: make([]Reason, 0, 16), amounts: make([]int64, 0, 256), payee: make([]int64, 0, 64)}
	}
	return e, nil
}

// Assess scores ev against the user's history and the current policy.
//
// It fails closed. When ev cannot be assessed (the error wraps
// ErrInvalidEvent: unparseable IP, unknown kind or channel, missing,
// negative or absurd amount, unaccepted currency) or the History fails (the
// error wraps ErrHistory), the returned Assessment still says
// DecisionChallenge, to the policy's strongest acr, with a reason naming the
// failure. Callers may therefore act on the Assessment alone, and must only
// skip step-up when Assessment.Allowed() is true.
func (e *Engine) Assess(ctx context.Context, ev Event) (Assessment, error) {
	p := e.policy.Current()
	if ev.Time.IsZero() {
		ev.Time = e.now()
	}
	now := ev.Time
	a := Assessment{PolicyVersion: p.version, Time: now}
	ip, err := checkEvent(&ev)
	if err != nil {
		return p.failClosed(a, CodeInvalidEvent, err), err
	}
	var amount int64 // euro cents
	if ev.Kind == KindPayment {
		var ok bool
		amount, ok = p.toEURCents(ev.Payment.Amount, ev.Payment.Currency)
		if !ok {
			err := invalid("currency %q is not accepted (the policy gives no rate to EUR)", ev.Payment.Currency)
			return p.failClosed(a, CodeInvalidEvent, err), err
		}
		if amount > p.payments.maxEURCents {
			err := invalid("amount %d %s (%s) is above the policy's maximum of %s", ev.Payment.Amount, ev.Payment.Currency, eur(amount), eur(p.payments.maxEURCents))
			return p.failClosed(a, CodeInvalidEvent, err), err
		}
	}

	s := e.pool.Get().(*scratch)
	defer e.pool.Put(s)
	s.reasons = s.reasons[:0]

	network := ev.Channel != ChannelCIBA && ip.IsValid()
	var loc geo.Location
	if network && geo.Locatable(ip) {
		loc = e.locator.Locate(ip)
	}
	a.Location = loc

	sig := &p.sig
	q := UserQuery{
		UserID:        ev.UserID,
		SignIns:       p.history.signIns,
		FailuresSince: now.Add(-sig.accountFailures.Window),
	}
	if ev.Channel != ChannelCIBA {
		q.DeviceID = ev.DeviceID
	}
	if ev.Kind == KindPayment {
		q.Payee = ev.Payment.Payee
		q.PaymentsSince = now.Add(-p.history.paymentWindow)
		q.Payments = p.history.payments
	}
	s.user.reset()
	if err := e.history.User(ctx, q, &s.user); err != nil {
		err = fmt.Errorf("%w: user %s: %w", ErrHistory, ev.UserID, err)
		return p.failClosed(a, CodeHistoryFailed, err), err
	}
	s.net = NetworkFacts{}
	if network {
		nq := NetworkQuery{
			Network:       NetworkOf(ip),
			FailuresSince: now.Add(-sig.ipFailures.Window),
			AccountsSince: now.Add(-sig.ipAccounts.Window),
		}
		if err := e.history.Network(ctx, nq, &s.net); err != nil {
			err = fmt.Errorf("%w: network %s: %w", ErrHistory, nq.Network, err)
			return p.failClosed(a, CodeHistoryFailed, err), err
		}
	}

	hardDeny := false
	past := s.user.SignIns
	if network {
		r, denied := signalIPDenied(p.deny, ip)
		s.add(r, denied)
		hardDeny = denied
		s.add(signalIPAllowed(p.allow, p.allowW, ip))
		s.add(signalUnknownDevice(sig.unknownDevice, ev.DeviceID, s.user.DeviceFirstSeen, now))
		s.add(signalNewCountry(sig.newCountry, loc, past))
		for i := range past {
			if past[i].Location.Known() {
				last := &past[i]
				s.add(signalImpossibleTravel(sig.impossibleTravel,
					travelPoint{loc: last.Location, noisy: p.noisy(last.IP, last.Location), time: last.Time},
					travelPoint{loc: loc, noisy: p.noisy(ip, loc), time: now}))
				break
			}
		}
		s.add(signalUnusualHour(sig.unusualHour, now, loc, past))
		s.add(signalUserAgentChange(sig.userAgentChange, ParseUserAgent(ev.UserAgent), past))
		s.add(signalIPFailures(sig.ipFailures, s.net.Failures))
		s.add(signalIPAccounts(sig.ipAccounts, s.net.Accounts))
	}
	s.add(signalAccountFailures(sig.accountFailures, s.user.Failures))
	s.add(signalReportedNotMe(sig.reportedNotMe, s.user.LastReport, now))
	kind := p.kinds[ev.Kind]
	if kind.weight > 0 {
		s.add(Reason{Code: CodeSensitiveKind, Weight: kind.weight, Detail: string(ev.Kind)}, true)
	}
	if ev.Kind == KindPayment {
		s.amounts, s.payee = s.amounts[:0], s.payee[:0]
		since := now.Add(-sig.paymentVelocity.Window)
		var count int
		var sum int64
		for i := range s.user.Payments {
			pr := &s.user.Payments[i]
			c, ok := p.toEURCents(pr.Amount, pr.Currency)
			if !ok {
				continue
			}
			s.amounts = append(s.amounts, c)
			if pr.Payee != "" && pr.Payee == ev.Payment.Payee {
				s.payee = append(s.payee, c)
			}
			if !pr.Time.Before(since) && !pr.Time.After(now) {
				count++
				sum += c
			}
		}
		s.add(signalPaymentVelocity(sig.paymentVelocity, amount, count, sum))
		s.add(signalAmountAnomaly(sig.amountAnomaly, amount, s.amounts, s.payee))
		s.add(signalNewPayee(sig.newPayee, ev.Payment.PayeeTrusted, s.user.PayeeKnown))
	}

	score := 0
	for _, r := range s.reasons {
		score += r.Weight
	}
	score = min(max(score, 0), 100)
	b := p.band(score)
	a.Score, a.Level, a.Decision = score, b.level, b.decision
	acr := b.acr

	client, hasClient := p.clients[ev.ClientID]
	if kind.alwaysStepUp && a.Decision == DecisionAllow {
		a.Decision = DecisionChallenge
		s.add(Reason{Code: CodeKindStepUp, Detail: "policy always steps up " + string(ev.Kind)}, true)
	}
	if hasClient && client.alwaysStepUp && a.Decision == DecisionAllow {
		a.Decision = DecisionChallenge
		s.add(Reason{Code: CodeClientStepUp, Detail: "client always steps up"}, true)
	}
	if hardDeny {
		a.Decision = DecisionDeny
	}
	if ev.Kind == KindPayment && p.payments.requireSCA && a.Decision == DecisionAllow {
		ex, why := p.exemption(&ev.Payment, amount, score, s.user.Payments, hasClient && client.noExemptions)
		if ex == ExemptionNone {
			a.Decision = DecisionChallenge
			s.add(Reason{Code: CodeSCARequired, Detail: why}, true)
		}
		a.Exemption = ex
	}
	if a.Decision == DecisionChallenge {
		acr = max(acr, kind.acr, 0)
		if hasClient {
			acr = max(acr, client.acr)
		}
		if ev.Kind == KindPayment {
			acr = max(acr, p.payments.acr)
		}
		a.ACR = p.acrs[acr].name
		a.Methods = p.methods(acr, client.methods)
	}
	a.Reasons = slices.Clone(s.reasons)
	return a, nil
}

// noisy reports whether a location's distance is unreliable: a cellular,
// VPN, proxy or hosting network, or a network the policy lists as noisy.
func (p *Policy) noisy(ip netip.Addr, loc geo.Location) bool {
	if loc.Mobile || loc.Anonymous {
		return true
	}
	_, ok := networkListed(p.noisyNets, ip)
	return ok
}

// methods returns the methods that reach acr, those the client prefers
// first.
func (p *Policy) methods(acr int, prefer []string) []string {
	all := p.acrs[acr].methods
	out := make([]string, 0, len(all))
	for _, m := range prefer {
		if slices.Contains(all, m) {
			out = append(out, m)
		}
	}
	for _, m := range all {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// failClosed turns a into a challenge to the strongest acr that explains
// err.
func (p *Policy) failClosed(a Assessment, code Code, err error) Assessment {
	a.Decision = DecisionChallenge
	a.Exemption = ExemptionNone
	strongest := len(p.acrs) - 1
	a.ACR = p.acrs[strongest].name
	a.Methods = slices.Clone(p.acrs[strongest].methods)
	a.Reasons = []Reason{{Code: code, Detail: err.Error()}}
	return a
}
