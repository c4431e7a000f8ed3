package eval

import (
	"fmt"
	"strings"

	"github.com/assent-auth/assent/risk"
)

// Row counts the decisions on one kind of traffic.
type Row struct {
	// Label is "attack/<type>", "attack/all", "genuine/<kind>" for customers
	// not attacked in the week before, "genuine/after_attack" for those
	// who were, and "genuine/all".
	Label      string `json:"label"`
	Attack     bool   `json:"attack"`
	Events     int    `json:"events"`
	Allowed    int    `json:"allowed"`
	Challenged int    `json:"challenged"`
	Denied     int    `json:"denied"`
	// Exempted counts payments allowed under a PSD2 exemption.
	Exempted int `json:"exempted,omitempty"`
	// Share is the share challenged or denied: detection for attacks,
	// friction for genuine traffic.
	Share float64 `json:"share"`
}

func (r *Row) count(o outcome) {
	r.Events++
	switch o.decision {
	case risk.DecisionAllow:
		r.Allowed++
		if o.exempt != risk.ExemptionNone {
			r.Exempted++
		}
	case risk.DecisionChallenge:
		r.Challenged++
	default:
		r.Denied++
	}
	r.Share = float64(r.Challenged+r.Denied) / float64(r.Events)
}

// Report is the result of one evaluation run.
type Report struct {
	Seed          uint64 `json:"seed"`
	Customers     int    `json:"customers"`
	Days          int    `json:"days"`
	PolicyVersion string `json:"policy_version"`
	// Precision is the geolocation precision simulated: "city" or "country".
	Precision string `json:"precision"`
	Rows      []Row  `json:"rows"`
	// Detection is the share of attack events challenged or denied.
	Detection float64 `json:"detection"`
	// LoginFriction and PaymentFriction are the shares of genuine sign-ins
	// and payments challenged or denied, on accounts not attacked in the
	// week before.
	LoginFriction   float64 `json:"login_friction"`
	PaymentFriction float64 `json:"payment_friction"`
	// Friction is the share of all genuine events challenged or denied.
	Friction float64 `json:"friction"`
}

func newReport(outs []outcome) *Report {
	rows := map[string]*Row{}
	row := func(label string, attack bool) *Row {
		r := rows[label]
		if r == nil {
			r = &Row{Label: label, Attack: attack}
			rows[label] = r
		}
		return r
	}
	for _, t := range AttackTypes() {
		row("attack/"+t, true)
	}
	row("attack/all", true)
	for _, k := range []risk.Kind{risk.KindLogin, risk.KindPayment, risk.KindEnrollment, risk.KindRecovery} {
		row("genuine/"+string(k), false)
	}
	row("genuine/after_attack", false)
	row("genuine/all", false)
	for _, o := range outs {
		switch {
		case o.attack != "":
			row("attack/"+o.attack, true).count(o)
			row("attack/all", true).count(o)
		case o.afterAttack:
			row("genuine/after_attack", false).count(o)
			row("genuine/all", false).count(o)
		default:
			row("genuine/"+string(o.kind), false).count(o)
			row("genuine/all", false).count(o)
		}
	}
	rep := &Report{}
	for _, t := range AttackTypes() {
		rep.Rows = append(rep.Rows, *rows["attack/"+t])
	}
	rep.Rows = append(rep.Rows, *rows["attack/all"])
	for _, k := range []risk.Kind{risk.KindLogin, risk.KindPayment, risk.KindEnrollment, risk.KindRecovery} {
		rep.Rows = append(rep.Rows, *rows["genuine/"+string(k)])
	}
	rep.Rows = append(rep.Rows, *rows["genuine/after_attack"], *rows["genuine/all"])
	rep.Detection = rows["attack/all"].Share
	rep.LoginFriction = rows["genuine/login"].Share
	rep.PaymentFriction = rows["genuine/payment"].Share
	rep.Friction = rows["genuine/all"].Share
	return rep
}

// Row returns the row with the label and whether there is one.
func (r *Report) Row(label string) (Row, bool) {
	for _, row := range r.Rows {
		if row.Label == label {
			return row, true
		}
	}
	return Row{}, false
}

// Table renders the report as a fixed-width text table.
func (r *Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "policy %s, seed %d, %d customers, %d days measured, %s-level geolocation\n\n",
		r.PolicyVersion, r.Seed, r.Customers, r.Days, r.Precision)
	fmt.Fprintf(&b, "%-28s %8s %8s %10s %8s %8s %9s\n", "traffic", "events", "allowed", "challenged", "denied", "exempt", "stopped")
	for _, row := range r.Rows {
		if row.Label == "attack/all" || row.Label == "genuine/login" {
			b.WriteString(strings.Repeat("-", 85) + "\n")
		}
		fmt.Fprintf(&b, "%-28s %8d %8d %10d %8d %8d %8.1f%%\n",
			row.Label, row.Events, row.Allowed, row.Challenged, row.Denied, row.Exempted, 100*row.Share)
	}
	fmt.Fprintf(&b, "\nattacks challenged or denied: %.1f%%; genuine friction: logins %.1f%%, payments %.1f%%, all %.1f%%\n",
		100*r.Detection, 100*r.LoginFriction, 100*r.PaymentFriction, 100*r.Friction)
	b.WriteString("(stopped: challenged or denied; genuine/<kind> rows leave out accounts attacked in the week before, counted in genuine/after_attack)\n")
	return b.String()
}

// String returns Table.
func (r *Report) String() string { return r.Table() }
