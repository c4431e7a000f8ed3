package adminclient

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Factor is a user's strong authenticator as the admin API lists it: no
// secret ever leaves the server.
type Factor struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"` // passkey, totp, recovery, app_device
	Name       string    `json:"name,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	// Passkeys: synced (backup-eligible) or device-bound, and whether it
	// was found cloned (its sign counter went backwards).
	Synced       bool     `json:"synced,omitempty"`
	BackedUp     bool     `json:"backed_up,omitempty"`
	UserVerified bool     `json:"user_verified,omitempty"`
	AAGUID       string   `json:"aaguid,omitempty"`
	Transports   []string `json:"transports,omitempty"`
	SignCount    uint32   `json:"sign_count,omitempty"`
	Suspect      bool     `json:"suspect,omitempty"`
	// TOTP: false until the user confirmed it with a first code.
	Active bool `json:"active,omitempty"`
	// Recovery codes left unused.
	Remaining int `json:"remaining,omitempty"`
	// App devices: Pending until the enrollment code is redeemed.
	Pending  bool   `json:"pending,omitempty"`
	Platform string `json:"platform,omitempty"`
}

// ListFactors returns a user's passkeys, TOTP and recovery codes.
func (c *Client) ListFactors(ctx context.Context, user string) ([]Factor, error) {
	var out struct {
		Factors []Factor `json:"factors"`
	}
	err := c.doJSON(ctx, http.MethodGet, userPath(user)+"/factors", nil, &out)
	return out.Factors, err
}

// RemovedFactor reports a removal.
type RemovedFactor struct {
	Removed Factor `json:"removed"`
	// RecoveryCodesRemoved reports that the recovery codes went too: no
	// strong factor was left for them to stand in for.
	RecoveryCodesRemoved bool `json:"recovery_codes_removed"`
}

// RemoveFactor removes one of a user's factors by id.
func (c *Client) RemoveFactor(ctx context.Context, user, id string) (RemovedFactor, error) {
	var out RemovedFactor
	err := c.doJSON(ctx, http.MethodDelete, userPath(user)+"/factors/"+url.PathEscape(id), nil, &out)
	return out, err
}
