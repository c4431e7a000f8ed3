package adminclient

import (
	"context"
	"net/http"
)

// RiskEvent is an event to score with AssessRisk, as the server would see
// it; Kind defaults to login and Channel to web.
type RiskEvent struct {
	Kind      string       `json:"kind,omitempty"`
	IP        string       `json:"ip"`
	UserAgent string       `json:"user_agent,omitempty"`
	DeviceID  string       `json:"device_id,omitempty"`
	Channel   string       `json:"channel,omitempty"`
	ClientID  string       `json:"client_id,omitempty"`
	Payment   *RiskPayment `json:"payment,omitempty"`
}

// RiskPayment is a payment to score: Amount in the currency's minor units.
type RiskPayment struct {
	Amount       int64  `json:"amount"`
	Currency     string `json:"currency"`
	Payee        string `json:"payee,omitempty"`
	PayeeTrusted bool   `json:"payee_trusted,omitempty"`
	Instrument   string `json:"instrument,omitempty"`
}

// RiskOutcome is the engine's answer to AssessRisk.
type RiskOutcome struct {
	UserID     string `json:"user_id"`
	DryRun     bool   `json:"dry_run"`
	Assessment struct {
		Score         int          `json:"score"`
		Level         string       `json:"level"`
		Decision      string       `json:"decision"`
		ACR           string       `json:"acr,omitempty"`
		Methods       []string     `json:"methods,omitempty"`
		Exemption     string       `json:"exemption,omitempty"`
		PolicyVersion string       `json:"policy_version"`
		Reasons       []RiskReason `json:"reasons"`
	} `json:"assessment"`
}

// AssessRisk scores ev for the user with the active policy and the user's
// history, recording nothing (a dry run).
func (c *Client) AssessRisk(ctx context.Context, user string, ev RiskEvent) (RiskOutcome, error) {
	var out RiskOutcome
	err := c.doJSON(ctx, http.MethodPost, userPath(user)+"/risk/assess", ev, &out)
	return out, err
}
