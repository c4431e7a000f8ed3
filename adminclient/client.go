// Package adminclient is a Go client for Assent's admin API (/admin/v1). The
// operator CLI and the terminal console use it; it speaks only HTTP and
// imports no server package.
package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls the admin API of one server.
type Client struct {
	// Base is the server's base URL, e.g. http://localhost:8080.
	Base  string
	Token string
	HTTP  *http.Client
}

// New returns a client with a sensible timeout.
func New(base, token string) *Client {
	return &Client{Base: strings.TrimSuffix(base, "/"), Token: token, HTTP: &http.Client{Timeout: 5 * time.Minute}}
}

// Problem is an RFC 9457 problem document returned by the server.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail"`
	Errors []FieldError `json:"errors"`
}

// FieldError names one invalid field.
type FieldError struct {
	Field  string `json:"field"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

func (p *Problem) Error() string {
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	for _, f := range p.Errors {
		if f.Detail != msg {
			msg += fmt.Sprintf(" (%s: %s)", f.Field, f.Detail)
		}
	}
	return msg
}

// IsNotFound reports whether err is the server's 404.
func IsNotFound(err error) bool {
	var p *Problem
	return errors.As(err, &p) && p.Status == http.StatusNotFound
}

// User is a user as the admin API returns it.
type User struct {
	ID            string            `json:"id"`
	Email         string            `json:"email"`
	Name          string            `json:"name,omitempty"`
	Attributes    map[string]string `json:"attributes,omitempty"`
	EmailVerified bool              `json:"email_verified"`
	Locked        bool              `json:"locked"`
	LockedUntil   time.Time         `json:"locked_until,omitzero"`
	FailedSignIns int               `json:"failed_sign_ins"`
	HasPassword   bool              `json:"has_password"`
	LastSignIn    time.Time         `json:"last_sign_in,omitzero"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
}

// NewUser is the body of a create.
type NewUser struct {
	Email        string `json:"email"`
	Name         string `json:"name,omitempty"`
	Password     string `json:"password,omitempty"`
	PasswordHash string `json:"password_hash,omitempty"`
	Unverified   bool   `json:"unverified,omitempty"`
}

// ImportResult reports an import.
type ImportResult struct {
	Created int `json:"created"`
	Failed  []struct {
		Line   int          `json:"line"`
		Errors []FieldError `json:"errors"`
	} `json:"failed"`
}

// AuditEvent is one entry of the audit log.
type AuditEvent struct {
	Seq       uint64            `json:"seq"`
	Time      time.Time         `json:"time"`
	Kind      string            `json:"kind"`
	Actor     string            `json:"actor,omitempty"`
	Subject   string            `json:"subject,omitempty"`
	IP        string            `json:"ip,omitempty"`
	UserAgent string            `json:"user_agent,omitempty"`
	Outcome   string            `json:"outcome"`
	Details   map[string]string `json:"details,omitempty"`
}

// do sends a request and decodes a JSON answer into out (if not nil).
// Non-2xx answers come back as *Problem.
func (c *Client) do(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the server at %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		p := &Problem{Status: resp.StatusCode}
		if json.Unmarshal(b, p) != nil || p.Title == "" {
			p.Title = resp.Status
		}
		return p
	}
	if out == nil || len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, out)
}

func (c *Client) doJSON(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	return c.do(ctx, method, path, "application/json", body, out)
}

// userPath addresses a user by id or e-mail.
func userPath(user string) string { return "/admin/v1/users/" + url.PathEscape(user) }

// CreateUser creates a user.
func (c *Client) CreateUser(ctx context.Context, nu NewUser) (User, error) {
	var u User
	err := c.doJSON(ctx, http.MethodPost, "/admin/v1/users", nu, &u)
	return u, err
}

// GetUser returns a user by id or e-mail.
func (c *Client) GetUser(ctx context.Context, user string) (User, error) {
	var u User
	err := c.doJSON(ctx, http.MethodGet, userPath(user), nil, &u)
	return u, err
}

// ListUsers returns one page of users after the given id, and the cursor of
// the next page ("" on the last).
func (c *Client) ListUsers(ctx context.Context, after string, limit int) ([]User, string, error) {
	var out struct {
		Users []User `json:"users"`
		Next  string `json:"next"`
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if after != "" {
		q.Set("after", after)
	}
	err := c.doJSON(ctx, http.MethodGet, "/admin/v1/users?"+q.Encode(), nil, &out)
	return out.Users, out.Next, err
}

// LockUser locks a user; UnlockUser lifts it.
func (c *Client) LockUser(ctx context.Context, user string) (User, error) {
	var u User
	err := c.doJSON(ctx, http.MethodPost, userPath(user)+"/lock", nil, &u)
	return u, err
}

// UnlockUser lifts an operator lock and a temporary lock.
func (c *Client) UnlockUser(ctx context.Context, user string) (User, error) {
	var u User
	err := c.doJSON(ctx, http.MethodPost, userPath(user)+"/unlock", nil, &u)
	return u, err
}

// DeleteUser erases a user.
func (c *Client) DeleteUser(ctx context.Context, user string) error {
	return c.doJSON(ctx, http.MethodDelete, userPath(user), nil, nil)
}

// ImportUsers sends JSON lines of NewUser objects.
func (c *Client) ImportUsers(ctx context.Context, jsonLines []byte) (ImportResult, error) {
	var r ImportResult
	err := c.do(ctx, http.MethodPost, "/admin/v1/users/import", "application/jsonl", bytes.NewReader(jsonLines), &r)
	return r, err
}

// Audit returns up to limit audit events after seq.
func (c *Client) Audit(ctx context.Context, after uint64, limit int) ([]AuditEvent, error) {
	var out struct {
		Events []AuditEvent `json:"events"`
	}
	q := url.Values{"after": {strconv.FormatUint(after, 10)}, "limit": {strconv.Itoa(limit)}}
	err := c.doJSON(ctx, http.MethodGet, "/admin/v1/audit?"+q.Encode(), nil, &out)
	return out.Events, err
}
