package fcm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"

	"github.com/assent-auth/assent/devices"
	"github.com/assent-auth/assent/store"
)

// Tokens finds a user's devices' registration tokens and forgets stale
// ones (devices.Service implements it).
type Tokens interface {
	AppDevices(ctx context.Context, userID string) ([]devices.DeviceKey, error)
	DropFCMToken(ctx context.Context, userID, deviceID string) error
}

// Config configures a Sender.
type Config struct {
	// ProjectID is the Firebase project; required.
	ProjectID string
	// CredentialsFile is the service account JSON file. Empty with
	// Endpoint set means no authentication (tests against a local fake).
	CredentialsFile string
	// Endpoint overrides the FCM API base URL (tests).
	Endpoint string
	Tokens   Tokens
	// Timeout bounds one wake-up, retries included (default 30 s): the SDK
	// retries unavailable answers with backoff for minutes otherwise.
	Timeout time.Duration
	Logger  *slog.Logger
}

// Validate reports every problem with c at once.
func (c *Config) Validate() error {
	var errs []error
	if c.ProjectID == "" {
		errs = append(errs, errors.New("fcm project id: required"))
	}
	if c.CredentialsFile == "" && c.Endpoint == "" {
		errs = append(errs, errors.New("fcm credentials file: required"))
	}
	if c.Tokens == nil {
		errs = append(errs, errors.New("tokens: required"))
	}
	return errors.Join(errs...)
}

// Sender wakes devices over FCM. It is safe for concurrent use.
type Sender struct {
	client  *messaging.Client
	tokens  Tokens
	timeout time.Duration
	log     *slog.Logger
}

// New returns a Sender for c.
func New(ctx context.Context, c Config) (*Sender, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var opts []option.ClientOption
	if c.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(c.Endpoint))
	}
	if c.CredentialsFile != "" {
		opts = append(opts, option.WithCredentialsFile(c.CredentialsFile))
	} else {
		opts = append(opts, option.WithoutAuthentication())
	}
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: c.ProjectID}, opts...)
	if err != nil {
		return nil, fmt.Errorf("fcm: %w", err)
	}
	client, err := app.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("fcm: %w", err)
	}
	s := &Sender{client: client, tokens: c.Tokens, timeout: c.Timeout, log: c.Logger}
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Message is what a device is sent for request r: its id only, collapsing
// with any earlier wake-up, and living no longer than the request.
func Message(token string, r store.PushRequest, now time.Time) *messaging.Message {
	ttl := max(r.ExpiresAt.Sub(now), 0).Truncate(time.Second)
	return &messaging.Message{
		Token: token,
		Data:  map[string]string{"request_id": r.ID},
		Android: &messaging.AndroidConfig{
			CollapseKey: "assent_push",
			Priority:    "high",
			TTL:         &ttl,
		},
		APNS: &messaging.APNSConfig{
			Headers: map[string]string{"apns-collapse-id": "assent_push", "apns-push-type": "background", "apns-priority": "5"},
			Payload: &messaging.APNSPayload{Aps: &messaging.Aps{ContentAvailable: true}},
		},
	}
}

// Wake sends r's id to every device of its user that has a token, and
// drops the tokens FCM reports unregistered. It returns how many were sent.
func (s *Sender) Wake(ctx context.Context, r store.PushRequest) int {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	devs, err := s.tokens.AppDevices(ctx, r.UserID)
	if err != nil {
		s.log.ErrorContext(ctx, "fcm: list devices failed", "user_id", r.UserID, "err", err)
		return 0
	}
	sent := 0
	for _, d := range devs {
		if d.FCMToken == "" {
			continue
		}
		_, err := s.client.Send(ctx, Message(d.FCMToken, r, time.Now()))
		switch {
		case err == nil:
			sent++
		case messaging.IsUnregistered(err):
			s.log.InfoContext(ctx, "fcm: token unregistered; dropped", "device_id", d.DeviceID)
			if err := s.tokens.DropFCMToken(ctx, r.UserID, d.DeviceID); err != nil {
				s.log.ErrorContext(ctx, "fcm: drop token failed", "device_id", d.DeviceID, "err", err)
			}
		default:
			s.log.WarnContext(ctx, "fcm: send failed", "device_id", d.DeviceID, "err", err)
		}
	}
	return sent
}
