package push

import (
	"context"
	"errors"

	"github.com/assent-auth/assent/store"
)

// ErrConsumed refuses an approval that was already spent, or a request
// that was never approved.
var ErrConsumed = errors.New("push: approval already used or not approved")

// Consume spends an approved request of the user: the first call marks it
// consumed and returns it, every later one (and any call on a request that
// is not approved) fails with ErrConsumed. The check and the write are one
// store transaction, so of two concurrent callers exactly one wins.
func (s *Service) Consume(ctx context.Context, userID, id string) (store.PushRequest, error) {
	now := s.now()
	r, err := s.store.UpdatePushRequest(ctx, userID, id, func(r store.PushRequest) (store.PushRequest, error) {
		if r.Status != store.PushApproved || !r.ConsumedAt.IsZero() {
			return r, ErrConsumed
		}
		r.ConsumedAt = now
		return r, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return r, ErrUnknownRequest
	}
	return r, err
}
