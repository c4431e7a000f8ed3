package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/store"
	"github.com/assent-auth/assent/webhook"
)

// validateWebhooks checks the webhook endpoints against the profile schema.
func (c *config) validateWebhooks(bad func(field, format string, a ...any)) {
	seen := map[string]bool{}
	for i, ep := range c.Webhooks {
		where := fmt.Sprintf("webhooks[%d]", i)
		for _, err := range ep.Validate(where) {
			field, msg, _ := strings.Cut(err.Error(), ": ")
			bad(field, "%s", msg)
		}
		if seen[ep.ID] {
			bad(where+".id", "%q is used twice", ep.ID)
		}
		seen[ep.ID] = true
		for _, p := range ep.Purposes {
			if _, ok := c.Profiles.Purpose(p); !ok {
				bad(where+".purposes", "%q is not a purpose declared under profiles", p)
			}
		}
		if len(ep.Purposes) == 0 && !slices.Equal(ep.Events, []string{webhook.EventUserErased}) {
			bad(where+".purposes", "required: a receiver gets a user's data only for purposes the user consented to")
		}
	}
}

// newWebhooks returns the dispatcher and a function that runs its delivery
// loop until ctx ends and reports when it has stopped; nil without
// endpoints.
func newWebhooks(cfg *config, st store.Webhooks, keys *profiles.Keyring, log *slog.Logger) (*webhook.Dispatcher, func(context.Context) <-chan struct{}, error) {
	if len(cfg.Webhooks) == 0 {
		return nil, func(context.Context) <-chan struct{} {
			done := make(chan struct{})
			close(done)
			return done
		}, nil
	}
	aead, err := keys.AEAD("webhook payloads v1")
	if err != nil {
		return nil, nil, err
	}
	d := webhook.New(webhook.Config{Store: st, Endpoints: cfg.Webhooks, AEAD: aead, Logger: log})
	return d, func(ctx context.Context) <-chan struct{} {
		done := make(chan struct{})
		go func() { defer close(done); d.Run(ctx) }()
		return done
	}, nil
}
