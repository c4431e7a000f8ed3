package adminclient

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// RiskReason is one contribution to a risk score.
type RiskReason struct {
	Code   string `json:"code"`
	Weight int    `json:"weight"`
	Detail string `json:"detail"`
}

// RiskAssessment is one recorded risk assessment.
type RiskAssessment struct {
	Seq           uint64       `json:"seq"`
	Time          time.Time    `json:"time"`
	Event         string       `json:"event"`
	Score         int          `json:"score"`
	Level         string       `json:"level"`
	Decision      string       `json:"decision"`
	ACR           string       `json:"acr,omitempty"`
	Methods       string       `json:"methods,omitempty"`
	Exemption     string       `json:"exemption,omitempty"`
	Country       string       `json:"country,omitempty"`
	IP            string       `json:"ip,omitempty"`
	PolicyVersion string       `json:"policy_version"`
	Reasons       []RiskReason `json:"reasons"`
}

// UserRisk returns the user's recent assessments, newest first.
func (c *Client) UserRisk(ctx context.Context, user string, limit int) ([]RiskAssessment, error) {
	var out struct {
		Assessments []RiskAssessment `json:"assessments"`
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	err := c.doJSON(ctx, http.MethodGet, userPath(user)+"/risk?"+q.Encode(), nil, &out)
	return out.Assessments, err
}

// RiskPolicy is the active risk policy.
type RiskPolicy struct {
	Version string `json:"version"`
	Source  string `json:"source"`
}

// RiskPolicy returns the active risk policy.
func (c *Client) RiskPolicy(ctx context.Context) (RiskPolicy, error) {
	var p RiskPolicy
	err := c.doJSON(ctx, http.MethodGet, "/admin/v1/risk/policy", nil, &p)
	return p, err
}
