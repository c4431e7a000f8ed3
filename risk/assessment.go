package risk

import (
	"fmt"
	"time"

	"github.com/assent-auth/assent/risk/geo"
)

// Decision is what the server must do with the event.
//
// The zero value is DecisionChallenge, so an Assessment that was never
// filled in, or one returned with an error, never lets anything through.
type Decision uint8

// Decisions.
const (
	// DecisionChallenge: step up to Assessment.ACR with one of
	// Assessment.Methods before going on.
	DecisionChallenge Decision = iota
	// DecisionAllow: go on without a further factor. Assessment.Exemption
	// names the PSD2 exemption when the event is a payment.
	DecisionAllow
	// DecisionDeny: refuse.
	DecisionDeny
)

var decisionNames = [...]string{DecisionChallenge: "challenge", DecisionAllow: "allow", DecisionDeny: "deny"}

// String returns "challenge", "allow" or "deny".
func (d Decision) String() string {
	if int(d) < len(decisionNames) {
		return decisionNames[d]
	}
	return fmt.Sprintf("decision(%d)", uint8(d))
}

// MarshalText implements encoding.TextMarshaler.
func (d Decision) MarshalText() ([]byte, error) {
	if int(d) >= len(decisionNames) {
		return nil, fmt.Errorf("risk: unknown decision %d", uint8(d))
	}
	return []byte(decisionNames[d]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Decision) UnmarshalText(b []byte) error {
	v, ok := parseDecision(string(b))
	if !ok {
		return fmt.Errorf("risk: unknown decision %q", b)
	}
	*d = v
	return nil
}

func parseDecision(s string) (Decision, bool) {
	for i, n := range decisionNames {
		if n == s {
			return Decision(i), true
		}
	}
	return DecisionChallenge, false
}

// Level names the policy band the score fell in.
type Level string

// Levels, in increasing order of risk.
const (
	LevelLow      Level = "low"
	LevelMedium   Level = "medium"
	LevelHigh     Level = "high"
	LevelCritical Level = "critical"
)

func (l Level) valid() bool {
	switch l {
	case LevelLow, LevelMedium, LevelHigh, LevelCritical:
		return true
	}
	return false
}

// Exemption names the PSD2 (RTS, Delegated Regulation (EU) 2018/389)
// exemption from strong customer authentication that let a payment through.
type Exemption string

// Exemptions.
const (
	ExemptionNone Exemption = ""
	// ExemptionTrustedPayee: Art. 13, a payee the user trusted with SCA.
	ExemptionTrustedPayee Exemption = "trusted_payee"
	// ExemptionLowValue: Art. 16, at most EUR 30, within EUR 100 or five
	// payments since the last SCA.
	ExemptionLowValue Exemption = "low_value"
	// ExemptionTRA: Art. 18, transaction risk analysis under the threshold
	// that the operator's fraud rate earns.
	ExemptionTRA Exemption = "tra"
)

// Code is a stable reason identifier, safe to log, count and alert on.
type Code string

// Reason codes.
const (
	CodeUnknownDevice    Code = "unknown_device"
	CodeNewCountry       Code = "new_country"
	CodeImpossibleTravel Code = "impossible_travel"
	CodeAccountFailures  Code = "account_failures"
	CodeIPFailures       Code = "ip_failures"
	CodeIPAccounts       Code = "ip_accounts" // many accounts from one IP: credential stuffing
	CodeUnusualHour      Code = "unusual_hour"
	CodeUserAgentChange  Code = "user_agent_change"
	CodeReportedNotMe    Code = "reported_not_me"
	CodeAmountAnomaly    Code = "amount_anomaly"
	CodeNewPayee         Code = "new_payee"
	CodePaymentVelocity  Code = "payment_velocity"
	CodeIPDenylisted     Code = "ip_denylisted"
	CodeIPAllowlisted    Code = "ip_allowlisted"
	CodeSensitiveKind    Code = "sensitive_kind" // the event kind carries weight of its own
	CodeKindStepUp       Code = "kind_step_up"   // the policy always steps up this kind
	CodeClientStepUp     Code = "client_step_up" // the relying party always demands step-up
	CodeSCARequired      Code = "sca_required"   // a payment no PSD2 exemption covers
	CodeInvalidEvent     Code = "invalid_event"  // Assess returned an error: fail closed
	CodeHistoryFailed    Code = "history_failed" // the History failed: fail closed
)

// Reason is one contribution to the score.
type Reason struct {
	Code Code `json:"code"`
	// Weight is what the reason added to the score (negative for an
	// allow-listed network; zero for reasons that force a decision).
	Weight int `json:"weight"`
	// Detail is for people: "1,840 km from last sign-in 20 min ago".
	Detail string `json:"detail"`
}

// Assessment is the engine's verdict on one event.
//
// Only Decision == DecisionAllow lets the caller proceed without a further
// factor; test for it with Allowed, never with "!= DecisionDeny".
type Assessment struct {
	// Score is 0 (no risk seen) to 100.
	Score int `json:"score"`
	// Level is the policy band of the score; empty when the event could not
	// be scored (Assess returned an error).
	Level    Level    `json:"level"`
	Decision Decision `json:"decision"`
	// ACR is the authentication context class the step-up must reach; set
	// whenever Decision is DecisionChallenge.
	ACR string `json:"acr,omitempty"`
	// Methods lists the authentication methods to offer, preferred first.
	Methods []string `json:"methods,omitempty"`
	// Exemption is the PSD2 exemption that allowed a payment, if any.
	Exemption Exemption `json:"exemption,omitempty"`
	// PolicyVersion is the version of the policy that produced this.
	PolicyVersion string `json:"policy_version"`
	// Reasons explains the score, in the order the signals ran.
	Reasons []Reason `json:"reasons"`
	// Time is the event time that was assessed.
	Time time.Time `json:"time"`
	// Location is where the event's IP was placed (zero when unknown).
	Location geo.Location `json:"location"`
}

// Allowed reports whether the event may proceed without step-up.
func (a Assessment) Allowed() bool { return a.Decision == DecisionAllow }

// Has reports whether a reason with the code is present.
func (a Assessment) Has(c Code) bool {
	for _, r := range a.Reasons {
		if r.Code == c {
			return true
		}
	}
	return false
}
