package adminclient

import (
	"context"
	"net/http"
	"time"
)

// AppEnrollment is a one-time code that enrolls an app device for a user.
type AppEnrollment struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

// StartAppEnrollment issues an enrollment code for the user's app device.
func (c *Client) StartAppEnrollment(ctx context.Context, user string) (AppEnrollment, error) {
	var out AppEnrollment
	err := c.doJSON(ctx, http.MethodPost, userPath(user)+"/app-enrollments", nil, &out)
	return out, err
}
