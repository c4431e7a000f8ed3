package authserver

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assent-auth/assent/store"
)

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	signins  *prometheus.CounterVec
	// assessments counts risk decisions by event kind and decision.
	assessments *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assent_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "assent_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		signins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assent_signins_total", Help: "Password sign-in attempts by outcome.",
		}, []string{"outcome"}),
	}
	m.assessments = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "assent_risk_assessments_total", Help: "Risk assessments by event kind and decision.",
	}, []string{"kind", "decision"})
	reg.MustRegister(m.requests, m.latency, m.signins, m.assessments)
	return m
}

func (m *metrics) observeRequest(route string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// InstrumentStore wraps s so that the latency of each store operation is
// recorded in reg as assent_store_duration_seconds{op}.
func InstrumentStore(s store.Store, reg prometheus.Registerer) store.Store {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "assent_store_duration_seconds", Help: "Store operation latency by operation.",
		Buckets: []float64{.00001, .00005, .0001, .0005, .001, .0025, .005, .01, .05, .1, .5},
	}, []string{"op"})
	reg.MustRegister(h)
	return &timedStore{Store: s, s: s, h: h}
}

// timedStore times the operations it overrides; the rest pass through the
// embedded Store untimed.
type timedStore struct {
	store.Store
	s store.Store
	h *prometheus.HistogramVec
}

func timed[T any](ts *timedStore, op string, f func() (T, error)) (T, error) {
	start := time.Now()
	v, err := f()
	ts.h.WithLabelValues(op).Observe(time.Since(start).Seconds())
	return v, err
}

func timed0(ts *timedStore, op string, f func() error) error {
	_, err := timed(ts, op, func() (struct{}, error) { return struct{}{}, f() })
	return err
}

func (t *timedStore) CreateUser(ctx context.Context, u store.User) error {
	return timed0(t, "create_user", func() error { return t.s.CreateUser(ctx, u) })
}
func (t *timedStore) GetUser(ctx context.Context, id string) (store.User, error) {
	return timed(t, "get_user", func() (store.User, error) { return t.s.GetUser(ctx, id) })
}
func (t *timedStore) GetUserByEmailIndex(ctx context.Context, idx []byte) (store.User, error) {
	return timed(t, "get_user_by_email", func() (store.User, error) { return t.s.GetUserByEmailIndex(ctx, idx) })
}
func (t *timedStore) ListUsers(ctx context.Context, after string, limit int) ([]store.User, error) {
	return timed(t, "list_users", func() ([]store.User, error) { return t.s.ListUsers(ctx, after, limit) })
}
func (t *timedStore) UpdateUser(ctx context.Context, id string, fn func(store.User) (store.User, error)) (store.User, error) {
	return timed(t, "update_user", func() (store.User, error) { return t.s.UpdateUser(ctx, id, fn) })
}
func (t *timedStore) CompareAndSwapUser(ctx context.Context, u store.User) (store.User, error) {
	return timed(t, "cas_user", func() (store.User, error) { return t.s.CompareAndSwapUser(ctx, u) })
}
func (t *timedStore) DeleteUser(ctx context.Context, id string) error {
	return timed0(t, "delete_user", func() error { return t.s.DeleteUser(ctx, id) })
}
func (t *timedStore) CreateSession(ctx context.Context, s store.Session) error {
	return timed0(t, "create_session", func() error { return t.s.CreateSession(ctx, s) })
}
func (t *timedStore) GetSession(ctx context.Context, h []byte) (store.Session, error) {
	return timed(t, "get_session", func() (store.Session, error) { return t.s.GetSession(ctx, h) })
}
func (t *timedStore) DeleteSession(ctx context.Context, h []byte) error {
	return timed0(t, "delete_session", func() error { return t.s.DeleteSession(ctx, h) })
}
func (t *timedStore) DeleteUserSessions(ctx context.Context, id string) (int, error) {
	return timed(t, "delete_user_sessions", func() (int, error) { return t.s.DeleteUserSessions(ctx, id) })
}
func (t *timedStore) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	return timed(t, "delete_expired_sessions", func() (int, error) { return t.s.DeleteExpiredSessions(ctx, now) })
}
func (t *timedStore) AppendAudit(ctx context.Context, e store.AuditEvent) (uint64, error) {
	return timed(t, "append_audit", func() (uint64, error) { return t.s.AppendAudit(ctx, e) })
}
func (t *timedStore) ListAudit(ctx context.Context, after uint64, limit int) ([]store.AuditEvent, error) {
	return timed(t, "list_audit", func() ([]store.AuditEvent, error) { return t.s.ListAudit(ctx, after, limit) })
}
func (t *timedStore) AddCounter(ctx context.Context, name string, d int64) (int64, error) {
	return timed(t, "add_counter", func() (int64, error) { return t.s.AddCounter(ctx, name, d) })
}
func (t *timedStore) Counter(ctx context.Context, name string) (int64, error) {
	return timed(t, "counter", func() (int64, error) { return t.s.Counter(ctx, name) })
}
func (t *timedStore) AppendSignIn(ctx context.Context, userID string, r store.SignInRecord) error {
	return timed0(t, "append_sign_in", func() error { return t.s.AppendSignIn(ctx, userID, r) })
}
func (t *timedStore) ListSignIns(ctx context.Context, userID string, limit int) ([]store.SignInRecord, error) {
	return timed(t, "list_sign_ins", func() ([]store.SignInRecord, error) { return t.s.ListSignIns(ctx, userID, limit) })
}
func (t *timedStore) ListFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	return timed(t, "list_factors", func() ([]store.Factor, error) { return t.s.ListFactors(ctx, userID) })
}
