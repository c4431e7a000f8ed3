package adminclient

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// AppEnrollment is a one-time code that enrolls an app device for a user.
type AppEnrollment struct {
	// Code is empty when the code was mailed to the user (SentTo).
	Code      string    `json:"code,omitempty"`
	SentTo    string    `json:"sent_to,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

// StartAppEnrollment issues an enrollment code for the user's app device.
func (c *Client) StartAppEnrollment(ctx context.Context, user string) (AppEnrollment, error) {
	var out AppEnrollment
	err := c.doJSON(ctx, http.MethodPost, userPath(user)+"/app-enrollments", nil, &out)
	return out, err
}

// MailAppEnrollment issues an enrollment code for the user's app device
// and mails it (with its QR code) to the user's verified address: the
// answer carries no code.
func (c *Client) MailAppEnrollment(ctx context.Context, user string) (AppEnrollment, error) {
	var out AppEnrollment
	err := c.doJSON(ctx, http.MethodPost, userPath(user)+"/app-enrollments", map[string]string{"send": "email"}, &out)
	return out, err
}

// ListAppDevices returns a user's enrolled app devices.
func (c *Client) ListAppDevices(ctx context.Context, user string) ([]Factor, error) {
	var out struct {
		Devices []Factor `json:"devices"`
	}
	err := c.doJSON(ctx, http.MethodGet, userPath(user)+"/app-devices", nil, &out)
	return out.Devices, err
}

// RenameAppDevice sets the name of one of a user's app devices.
func (c *Client) RenameAppDevice(ctx context.Context, user, id, name string) (Factor, error) {
	var out Factor
	err := c.doJSON(ctx, http.MethodPatch, userPath(user)+"/app-devices/"+url.PathEscape(id), map[string]string{"name": name}, &out)
	return out, err
}

// RevokeAppDevice removes one of a user's app devices: its key stops
// working at once.
func (c *Client) RevokeAppDevice(ctx context.Context, user, id string) error {
	return c.doJSON(ctx, http.MethodDelete, userPath(user)+"/app-devices/"+url.PathEscape(id), nil, nil)
}

// PushLock tells whether a user's push approvals are locked after
// repeated denials, and until when.
type PushLock struct {
	Locked bool      `json:"locked"`
	Until  time.Time `json:"until,omitzero"`
}

// GetPushLock returns the user's push lock.
func (c *Client) GetPushLock(ctx context.Context, user string) (PushLock, error) {
	var out PushLock
	err := c.doJSON(ctx, http.MethodGet, userPath(user)+"/push-lock", nil, &out)
	return out, err
}

// UnlockPush lifts the lock; the server answers 404 when there is none.
func (c *Client) UnlockPush(ctx context.Context, user string) error {
	return c.doJSON(ctx, http.MethodDelete, userPath(user)+"/push-lock", nil, nil)
}
