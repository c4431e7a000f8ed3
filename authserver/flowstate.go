package authserver

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"
)

// Short-lived flow state (a sign-in waiting for its second factor, a
// WebAuthn ceremony between its options and the authenticator's answer)
// travels in a cookie sealed with AES-GCM under a key of its own, so the
// browser can neither read nor change it. Each is
//
//   - bound to the browser: it carries the hash of the browser's CSRF
//     cookie, so a sealed value lifted into another browser is refused;
//   - short-lived: it expires flowTTL after it was issued;
//   - single-use: its random nonce is spent when it is consumed, and a
//     spent nonce is refused until the state would have expired anyway.
//
// The cookie's name is the associated data of the seal, so one kind of
// state cannot stand in for another. Spent nonces live in memory: a
// restart forgets them, which re-opens at most the flowTTL window of a
// state consumed just before it.
const flowTTL = 5 * time.Minute

// Flow cookies.
const (
	pendingCookie   = "assent_pending"
	ceremonyCookie  = "assent_ceremony"
	maxFlowCookie   = 3800 // browsers keep at least 4096 bytes per cookie
	maxSpentNonces  = 1 << 18
	flowNonceLength = 16
)

var (
	errNoFlow      = errors.New("no flow state")
	errFlowExpired = errors.New("flow state expired")
	errFlowSpent   = errors.New("flow state already used")
)

// flowEnvelope is what a flow cookie holds once opened.
type flowEnvelope struct {
	Nonce   string          `json:"n"`
	Expires time.Time       `json:"e"`
	Bind    []byte          `json:"b"`
	Value   json.RawMessage `json:"v"`
}

// browserBinding is the hash of the request's CSRF cookie, or nil.
func (s *Server) browserBinding(r *http.Request) []byte {
	c := s.cookie(r, "assent_csrf")
	if len(c) != 43 {
		return nil
	}
	h := sha256.Sum256([]byte("flow binding\x00" + c))
	return h[:]
}

// putFlow seals v into the named flow cookie.
func (s *Server) putFlow(w http.ResponseWriter, r *http.Request, name string, v any) error {
	bind := s.browserBinding(r)
	if bind == nil {
		return errors.New("no CSRF cookie to bind the flow to")
	}
	val, err := json.Marshal(v)
	if err != nil {
		return err
	}
	env, err := json.Marshal(flowEnvelope{Nonce: randomToken(flowNonceLength), Expires: s.now().Add(flowTTL), Bind: bind, Value: val})
	if err != nil {
		return err
	}
	sealed := base64.RawURLEncoding.EncodeToString(sealWith(s.flows.aead, env, []byte(name)))
	if len(sealed) > maxFlowCookie {
		return errors.New("flow state too large for a cookie")
	}
	s.setCookie(w, name, sealed, flowTTL)
	return nil
}

// readFlow opens the named flow cookie into v without consuming it and
// returns its nonce.
func (s *Server) readFlow(r *http.Request, name string, v any) (string, error) {
	raw := s.cookie(r, name)
	if raw == "" || len(raw) > maxFlowCookie {
		return "", errNoFlow
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return "", errNoFlow
	}
	plain, err := openSealed(s.flows.aead, b, []byte(name))
	if err != nil {
		return "", errNoFlow
	}
	var env flowEnvelope
	if err := json.Unmarshal(plain, &env); err != nil {
		return "", errNoFlow
	}
	bind := s.browserBinding(r)
	if bind == nil || subtle.ConstantTimeCompare(bind, env.Bind) != 1 {
		return "", errNoFlow
	}
	if !s.now().Before(env.Expires) {
		return "", errFlowExpired
	}
	if s.flows.spent.isSpent(env.Nonce) {
		return "", errFlowSpent
	}
	if err := json.Unmarshal(env.Value, v); err != nil {
		return "", errNoFlow
	}
	return env.Nonce, nil
}

// consumeFlow spends the nonce of a state read with readFlow and clears
// its cookie. It reports false when the state was spent meanwhile (a
// concurrent request won) or cannot be recorded as spent.
func (s *Server) consumeFlow(w http.ResponseWriter, name, nonce string) bool {
	s.setCookie(w, name, "", -1)
	return s.flows.spent.spend(nonce, s.now().Add(flowTTL))
}

// takeFlow reads and consumes the named flow state in one step.
func (s *Server) takeFlow(w http.ResponseWriter, r *http.Request, name string, v any) error {
	nonce, err := s.readFlow(r, name, v)
	if err != nil {
		s.setCookie(w, name, "", -1)
		return err
	}
	if !s.consumeFlow(w, name, nonce) {
		return errFlowSpent
	}
	return nil
}

// spentSet remembers consumed nonces until their state would have expired.
type spentSet struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]time.Time
}

func newSpentSet(now func() time.Time) *spentSet {
	return &spentSet{now: now, m: map[string]time.Time{}}
}

func (s *spentSet) isSpent(nonce string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[nonce]
	return ok
}

// spend records nonce as used until until. It reports false if it already
// was, or if the set is full even after forgetting expired entries (it
// fails closed rather than forget a live one).
func (s *spentSet) spend(nonce string, until time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[nonce]; ok {
		return false
	}
	if len(s.m) >= maxSpentNonces {
		now := s.now()
		for k, exp := range s.m {
			if !now.Before(exp) {
				delete(s.m, k)
			}
		}
		if len(s.m) >= maxSpentNonces {
			return false
		}
	}
	s.m[nonce] = until
	return true
}
