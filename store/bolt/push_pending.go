package bolt

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
)

// pendingListLimit is ListPendingPushRequests' page when the caller asks
// for none.
const pendingListLimit = 1000

// ListPendingPushRequests returns every user's requests pending at now,
// soonest to expire first, from one consistent snapshot. It decodes every
// stored request; the bucket holds little more than what waits, since a
// user's next request removes the ones no longer pending.
func (d *DB) ListPendingPushRequests(ctx context.Context, now time.Time, limit int) ([]store.PushRequest, int, error) {
	if limit <= 0 {
		limit = pendingListLimit
	}
	var rs []store.PushRequest
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		rs = nil
		return tx.Bucket(bucketPush).ForEach(func(_, v []byte) error {
			var r store.PushRequest
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode push request: %w", err)
			}
			if r.PendingAt(now) {
				rs = append(rs, r)
			}
			return nil
		})
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list pending push requests: %w", err)
	}
	slices.SortFunc(rs, func(a, b store.PushRequest) int {
		return cmp.Or(a.ExpiresAt.Compare(b.ExpiresAt), cmp.Compare(a.ID, b.ID))
	})
	if len(rs) > limit {
		return rs[:limit:limit], len(rs) - limit, nil
	}
	return rs, 0, nil
}
