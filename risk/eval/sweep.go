package eval

import (
	"context"
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/assent-auth/assent/risk"
)

// Point is the outcome of one run at one challenge threshold.
type Point struct {
	// Threshold is the lowest score that is challenged.
	Threshold int `json:"threshold"`
	// Detection is the share of attack events challenged or denied.
	Detection float64 `json:"detection"`
	// Friction is the share of genuine sign-ins and payments challenged or
	// denied (accounts not attacked in the week before).
	Friction        float64 `json:"friction"`
	LoginFriction   float64 `json:"login_friction"`
	PaymentFriction float64 `json:"payment_friction"`
}

// Sweep runs the same traffic once per threshold, with the policy's
// challenge threshold (the bottom of its first challenge band) moved there
// and PSD2 exemptions allowed only below it.
func Sweep(ctx context.Context, o Options, thresholds []int) ([]Point, error) {
	o.defaults()
	items, measure := traffic(o)
	var pts []Point
	for _, t := range thresholds {
		b, err := withThreshold(o.Policy, t)
		if err != nil {
			return nil, err
		}
		policy, err := risk.LoadPolicy(b)
		if err != nil {
			return nil, fmt.Errorf("threshold %d: %w", t, err)
		}
		outs, err := simulate(ctx, o, policy, items, measure)
		if err != nil {
			return nil, err
		}
		rep := newReport(outs)
		login, _ := rep.Row("genuine/login")
		pay, _ := rep.Row("genuine/payment")
		pts = append(pts, Point{
			Threshold:       t,
			Detection:       rep.Detection,
			Friction:        float64(login.Challenged+login.Denied+pay.Challenged+pay.Denied) / float64(max(1, login.Events+pay.Events)),
			LoginFriction:   rep.LoginFriction,
			PaymentFriction: rep.PaymentFriction,
		})
	}
	return pts, nil
}

// withThreshold rewrites a policy file so that scores from t up are
// challenged: the allow band ends at t-1 and the band above it starts at t.
func withThreshold(policy []byte, t int) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(policy, &doc); err != nil {
		return nil, err
	}
	bands, _ := doc["bands"].([]any)
	var allow, next map[string]any
	for _, b := range bands {
		m, _ := b.(map[string]any)
		if m["decision"] == "allow" {
			allow = m
		}
	}
	if allow == nil {
		return nil, fmt.Errorf("eval: the policy has no allow band")
	}
	for _, b := range bands {
		m, _ := b.(map[string]any)
		if m["min"] == allow["max"].(int)+1 {
			next = m
		}
	}
	if next == nil {
		return nil, fmt.Errorf("eval: no band above the allow band")
	}
	lo, hi := allow["min"].(int), next["max"].(int)
	if t <= lo || t > hi {
		return nil, fmt.Errorf("eval: threshold %d outside %d..%d", t, lo+1, hi)
	}
	allow["max"], next["min"] = t-1, t
	if p, ok := doc["payments"].(map[string]any); ok {
		if ex, ok := p["exemptions"].(map[string]any); ok {
			ex["max_score"] = t - 1
		}
	}
	doc["version"] = fmt.Sprintf("%v+threshold-%d", doc["version"], t)
	return yaml.Marshal(doc)
}

// DefaultThresholds are the thresholds Sweep is usually run at.
func DefaultThresholds() []int {
	return slices.Clone([]int{5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 59})
}
