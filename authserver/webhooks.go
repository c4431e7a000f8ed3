package authserver

import (
	"context"
	"net/http"
	"strconv"

	"github.com/assent-auth/assent/store"
	"github.com/assent-auth/assent/webhook"
)

// Downstream sync: profile and consent changes are queued for the
// configured webhook endpoints right after they commit; the webhook
// package delivers them.

// syncUser queues event with each endpoint's consent-aware payload.
func (s *Server) syncUser(r *http.Request, event, userID string) {
	if s.cfg.Webhooks == nil {
		return
	}
	err := s.cfg.Webhooks.Enqueue(r.Context(), event, userID, func(ep webhook.Endpoint) (any, error) {
		return s.profiles.SyncPayload(r.Context(), userID, ep.Purposes)
	})
	if err != nil {
		s.log.ErrorContext(r.Context(), "queue webhook failed", "event", event, "err", err)
	}
}

// syncErased tells the endpoints that a user was erased, so they erase
// too. The outbox keeps it under the pseudonym; the payload (sealed, and
// dropped once delivered) names the user id the endpoints know.
func (s *Server) syncErased(ctx context.Context, userID, pseudonym string) {
	if s.cfg.Webhooks == nil {
		return
	}
	err := s.cfg.Webhooks.Enqueue(ctx, webhook.EventUserErased, pseudonym, func(webhook.Endpoint) (any, error) {
		return map[string]string{"user_id": userID}, nil
	})
	if err != nil {
		s.log.ErrorContext(ctx, "queue webhook failed", "event", webhook.EventUserErased, "err", err)
	}
}

func (s *Server) adminWebhookRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/v1/webhooks", s.adminListWebhooks)
	mux.HandleFunc("GET /admin/v1/webhooks/{endpoint}/deliveries", s.adminWebhookDeliveries)
}

type webhookStatus struct {
	webhook.Endpoint
	// Pending counts undelivered events (up to 1000); Next is the oldest.
	Pending int                    `json:"pending"`
	Next    *store.WebhookDelivery `json:"next,omitempty"`
}

func (s *Server) adminListWebhooks(w http.ResponseWriter, r *http.Request) {
	out := []webhookStatus{}
	if s.cfg.Webhooks != nil {
		for _, ep := range s.cfg.Webhooks.Endpoints() {
			ps, err := s.store.PendingWebhooks(r.Context(), ep.ID, 1000)
			if err != nil {
				s.writeDomainError(w, r, err)
				return
			}
			st := webhookStatus{Endpoint: ep, Pending: len(ps)}
			if len(ps) > 0 {
				n := ps[0]
				n.Data = nil
				st.Next = &n
			}
			out = append(out, st)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"endpoints": out})
}

func (s *Server) adminWebhookDeliveries(w http.ResponseWriter, r *http.Request) {
	ep := r.PathValue("endpoint")
	known := false
	if s.cfg.Webhooks != nil {
		for _, e := range s.cfg.Webhooks.Endpoints() {
			known = known || e.ID == ep
		}
	}
	if !known {
		writeProblem(w, http.StatusNotFound, "No such webhook endpoint.")
		return
	}
	q := r.URL.Query()
	var after uint64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeProblem(w, http.StatusBadRequest, "Invalid query.", FieldError{Field: "after", Detail: "must be a sequence number"})
			return
		}
		after = n
	}
	ds, err := s.store.ListWebhooks(r.Context(), ep, after, 100)
	if err != nil {
		s.writeDomainError(w, r, err)
		return
	}
	for i := range ds {
		ds[i].Data = nil
	}
	if ds == nil {
		ds = []store.WebhookDelivery{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": ds})
}
