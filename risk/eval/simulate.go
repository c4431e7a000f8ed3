package eval

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/assent-auth/assent/risk"
)

// Options configures one evaluation run.
type Options struct {
	// Seed makes the traffic and the run reproducible.
	Seed uint64
	// Customers is the number of genuine customers (default 1000).
	Customers int
	// WarmupDays of genuine traffic build the history before measuring
	// (default 28); Days are measured (default 28).
	WarmupDays, Days int
	// Campaigns per attack type (default Customers/10; credential stuffing
	// runs a tenth as many campaigns, each of hundreds of attempts).
	Campaigns int
	// Policy is a policy file; nil means the default policy.
	Policy []byte
	// CountryLevel locates addresses to country precision only, as the
	// embedded database does, instead of city precision as with a city
	// database.
	CountryLevel bool
}

func (o *Options) defaults() {
	if o.Customers <= 0 {
		o.Customers = 1000
	}
	if o.WarmupDays <= 0 {
		o.WarmupDays = 28
	}
	if o.Days <= 0 {
		o.Days = 28
	}
	if o.Campaigns <= 0 {
		o.Campaigns = max(10, o.Customers/10)
	}
	if o.Policy == nil {
		o.Policy = risk.DefaultPolicyYAML()
	}
}

// traffic generates the labelled events of a run, in time order.
func traffic(o Options) ([]item, time.Time) {
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	g := &generator{
		r:       rand.New(rand.NewPCG(o.Seed, 0x9e3779b97f4a7c15)),
		start:   start,
		measure: start.AddDate(0, 0, o.WarmupDays),
		end:     start.AddDate(0, 0, o.WarmupDays+o.Days),
	}
	for i := range o.Customers {
		g.custs = append(g.custs, g.newCustomer(i))
	}
	for _, c := range g.custs {
		g.genuine(c)
	}
	g.attacks(o.Campaigns)
	slices.SortFunc(g.items, func(a, b item) int {
		if c := a.ev.Time.Compare(b.ev.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	return g.items, g.measure
}

// outcome is what one assessed event came to.
type outcome struct {
	attack   string
	kind     risk.Kind
	score    int
	decision risk.Decision
	exempt   risk.Exemption
	reasons  []risk.Reason
	// afterAttack marks a genuine event on an account attacked in the
	// week before.
	afterAttack bool
}

// simulate assesses every event in order with policy, feeding each outcome
// back into the history, and returns the outcomes of measured events.
func simulate(ctx context.Context, o Options, policy *risk.Policy, items []item, measure time.Time) ([]outcome, error) {
	hist := risk.NewMemoryHistory()
	eng, err := risk.NewEngine(risk.Config{
		Policy:  policy,
		History: hist,
		Locator: Locator{CountryLevel: o.CountryLevel},
		Now:     func() time.Time { return measure },
	})
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(o.Seed, 1))
	var out []outcome
	lastPrune := time.Time{}
	attacked := map[string]time.Time{}
	for i := range items {
		it := &items[i]
		ev := it.ev
		if ev.Time.Sub(lastPrune) > 24*time.Hour {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			hist.Prune(ev.Time.Add(-24 * time.Hour))
			lastPrune = ev.Time
		}
		ip, _ := netip.ParseAddr(ev.IP)
		if it.typo {
			hist.AddFailure(ev.UserID, ip, ev.Time.Add(-40*time.Second))
		}
		a, err := eng.Assess(ctx, ev)
		if err != nil {
			return nil, fmt.Errorf("assess %s event of %s: %w", ev.Kind, ev.UserID, err)
		}
		if it.attack != "" && it.cust != nil && it.passwordOK {
			attacked[ev.UserID] = ev.Time
		}
		if !ev.Time.Before(measure) {
			at, ok := attacked[ev.UserID]
			out = append(out, outcome{attack: it.attack, kind: ev.Kind, score: a.Score, decision: a.Decision, exempt: a.Exemption, reasons: a.Reasons,
				afterAttack: it.attack == "" && ok && ev.Time.Sub(at) < afterAttackWindow})
		}
		// What happens next: genuine customers pass every challenge;
		// attackers pass none, and a victim who gets an unexpected approval
		// request in the app (the attacker got past the password) sometimes
		// reports it.
		passed := a.Decision == risk.DecisionAllow || (a.Decision == risk.DecisionChallenge && it.attack == "")
		strong := a.Decision == risk.DecisionChallenge
		if it.attack != "" {
			passed = passed && it.passwordOK
			if a.Decision == risk.DecisionChallenge && it.cust != nil && it.passwordOK && r.Float64() < 0.35 {
				hist.AddReport(ev.UserID, ev.Time.Add(2*time.Minute))
			}
		}
		if it.enroll != "" && (passed || it.bypass) {
			hist.AddDevice(ev.UserID, it.enroll, ev.Time)
		}
		switch {
		case !passed:
			hist.AddFailure(ev.UserID, ip, ev.Time)
		case ev.Kind == risk.KindPayment:
			hist.AddPayment(ev.UserID, risk.PaymentRecordOf(ev, a, strong))
		case ev.Kind == risk.KindLogin || ev.Kind == risk.KindRecovery:
			hist.AddSignIn(ev.UserID, risk.SignInRecord(ev, a, strong))
		}
	}
	return out, nil
}

// afterAttackWindow is how long after an attack with the victim's real
// credentials (password, card or cookies) the victim's own events are
// counted apart: the policy rightly steps them up (a "this wasn't me"
// report, a burst of failures), and how many there are follows from the
// simulated attack density, which is far above real-world rates.
const afterAttackWindow = 7 * 24 * time.Hour

// Run generates the traffic, assesses it with the policy and reports.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	policy, err := risk.LoadPolicy(o.Policy)
	if err != nil {
		return nil, err
	}
	items, measure := traffic(o)
	outs, err := simulate(ctx, o, policy, items, measure)
	if err != nil {
		return nil, err
	}
	rep := newReport(outs)
	rep.Seed, rep.Customers, rep.Days, rep.PolicyVersion = o.Seed, o.Customers, o.Days, policy.Version()
	rep.Precision = "city"
	if o.CountryLevel {
		rep.Precision = "country"
	}
	return rep, nil
}
