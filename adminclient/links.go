package adminclient

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// UpstreamLink is a user's link to an account at an upstream OpenID
// provider. ID is a keyed hash: it does not reveal the upstream subject.
type UpstreamLink struct {
	ID        string    `json:"id"`
	Provider  string    `json:"provider"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// UserLinks returns a user's linked upstream accounts.
func (c *Client) UserLinks(ctx context.Context, user string) ([]UpstreamLink, error) {
	var out struct {
		Links []UpstreamLink `json:"links"`
	}
	err := c.doJSON(ctx, http.MethodGet, userPath(user)+"/links", nil, &out)
	return out.Links, err
}

// Unlink removes one of a user's linked upstream accounts and returns it.
// The user's last way in (no password, no passkey, one link) is refused
// with a 409 *Problem unless force is set.
func (c *Client) Unlink(ctx context.Context, user, id string, force bool) (UpstreamLink, error) {
	var out struct {
		Unlinked UpstreamLink `json:"unlinked"`
	}
	p := userPath(user) + "/links/" + url.PathEscape(id)
	if force {
		p += "?force=true"
	}
	err := c.doJSON(ctx, http.MethodDelete, p, nil, &out)
	return out.Unlinked, err
}
