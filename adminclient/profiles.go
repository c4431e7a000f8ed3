package adminclient

import (
	"context"
	"encoding/json"
	"net/http"
)

// ErasureResult is what an erasure did.
type ErasureResult struct {
	Erased bool `json:"erased"`
	// Pseudonym now stands for the user in the audit log.
	Pseudonym   string `json:"pseudonym"`
	AuditEvents int    `json:"audit_events_pseudonymised"`
}

// ExportUser returns everything the server holds about a user as one JSON
// document (see profiles.Export on the server).
func (c *Client) ExportUser(ctx context.Context, user string) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.doJSON(ctx, http.MethodGet, userPath(user)+"/export", nil, &out)
	return out, err
}

// EraseUser erases a user's personal data everywhere and pseudonymises
// their audit events.
func (c *Client) EraseUser(ctx context.Context, user string) (ErasureResult, error) {
	var out ErasureResult
	err := c.doJSON(ctx, http.MethodPost, userPath(user)+"/erase", nil, &out)
	return out, err
}

// UserAttributes returns a user's profile attributes (high-sensitivity ones
// included) and where each was collected.
func (c *Client) UserAttributes(ctx context.Context, user string) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.doJSON(ctx, http.MethodGet, userPath(user)+"/attributes", nil, &out)
	return out, err
}

// SetUserAttributes sets attributes: a string, a list of strings (for a
// multi_select) or nil (to remove) per name. Invalid values come back as a
// *Problem listing every invalid field.
func (c *Client) SetUserAttributes(ctx context.Context, user string, attrs map[string]any) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.doJSON(ctx, http.MethodPatch, userPath(user)+"/attributes", map[string]any{"attributes": attrs}, &out)
	return out, err
}

// UserConsents returns a user's current consents and their full history.
func (c *Client) UserConsents(ctx context.Context, user string) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.doJSON(ctx, http.MethodGet, userPath(user)+"/consents", nil, &out)
	return out, err
}
