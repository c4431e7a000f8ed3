package deviceclient

import (
	"context"
	"time"

	"github.com/assent-auth/assent/push"
)

// Reply is a person's answer to a request shown to them.
type Reply struct {
	Request push.RequestView
	Answer  Answer
}

// RunLive keeps the channel open like Run, reconnecting with backoff, but
// leaves the decisions to the caller, who may take their time while other
// messages keep arriving: every message from the server (requests,
// resolutions, results, and MsgError with the reason when the connection
// drops) goes to on, in order, from one goroutine; each Reply received on
// replies is signed and sent on the current connection. It returns when
// ctx ends.
func (id *Identity) RunLive(ctx context.Context, on func(push.Message), replies <-chan Reply) error {
	backoff := 500 * time.Millisecond
	for {
		c, err := id.Connect(ctx)
		if err == nil {
			backoff = 500 * time.Millisecond
			err = c.live(ctx, on, replies)
			c.Close()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		on(push.Message{Type: push.MsgError, Reason: err.Error()})
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// live reads in a goroutine and writes from this one: gorilla allows one
// reader and one writer at a time.
func (c *Conn) live(ctx context.Context, on func(push.Message), replies <-chan Reply) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	readErr := make(chan error, 1)
	go func() {
		for {
			m, err := c.Next(ctx)
			if err != nil {
				readErr <- err
				return
			}
			on(m)
		}
	}()
	for {
		select {
		case err := <-readErr:
			return err
		case <-ctx.Done():
			return ctx.Err()
		case r := <-replies:
			d, err := c.id.Sign(r.Request, r.Answer)
			if err != nil {
				return err
			}
			if err := c.Send(d); err != nil {
				return err
			}
		}
	}
}
