package fcm

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/devices"
	"github.com/assent-auth/assent/store"
)

type fakeTokens struct {
	mu      sync.Mutex
	devs    []devices.DeviceKey
	dropped []string
}

func (f *fakeTokens) AppDevices(context.Context, string) ([]devices.DeviceKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.devs), nil
}

func (f *fakeTokens) DropFCMToken(_ context.Context, _, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dropped = append(f.dropped, id)
	return nil
}

// fakeFCM is a local FCM v1 endpoint: it records each message and
// answers UNREGISTERED for the token "stale".
type fakeFCM struct {
	mu    sync.Mutex
	paths []string
	msgs  []map[string]any
}

func (f *fakeFCM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var body struct {
		Message map[string]any `json:"message"`
	}
	json.Unmarshal(b, &body)
	f.mu.Lock()
	f.paths = append(f.paths, r.Method+" "+r.URL.Path)
	f.msgs = append(f.msgs, body.Message)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if body.Message["token"] == "stale" {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND",
"details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`)
		return
	}
	io.WriteString(w, `{"name":"projects/test-project/messages/1"}`)
}

// TestWake sends through the Firebase SDK itself to a local endpoint and
// checks the exact message and the dropping of an unregistered token.
func TestWake(t *testing.T) {
	fake := &fakeFCM{}
	ts := httptest.NewServer(fake)
	defer ts.Close()
	tokens := &fakeTokens{devs: []devices.DeviceKey{
		{DeviceID: "app_live", UserID: "u1", FCMToken: "live"},
		{DeviceID: "app_socket_only", UserID: "u1"},
		{DeviceID: "app_stale", UserID: "u1", FCMToken: "stale"},
	}}
	s, err := New(t.Context(), Config{ProjectID: "test-project", Endpoint: ts.URL, Tokens: tokens, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r := store.PushRequest{ID: "pr_1", UserID: "u1", Kind: store.PushPayment, Amount: "10.00", Payee: "Shop",
		ExpiresAt: time.Now().Add(2 * time.Minute)}
	if n := s.Wake(t.Context(), r); n != 1 {
		t.Fatalf("sent %d, want 1", n)
	}
	if !slices.Equal(tokens.dropped, []string{"app_stale"}) {
		t.Errorf("dropped %v, want [app_stale]", tokens.dropped)
	}
	if len(fake.msgs) != 2 || fake.paths[0] != "POST /projects/test-project/messages:send" {
		t.Fatalf("requests %v", fake.paths)
	}
	got, _ := json.Marshal(fake.msgs[0])
	var m map[string]any
	json.Unmarshal(got, &m)
	data := m["data"].(map[string]any)
	if len(data) != 1 || data["request_id"] != "pr_1" {
		t.Errorf("data %v: only the request id may travel", data)
	}
	android := m["android"].(map[string]any)
	if android["collapse_key"] != "assent_push" || android["priority"] != "high" {
		t.Errorf("android %v", android)
	}
	for _, secret := range []string{"10.00", "Shop", "u1"} {
		if json.Valid(got) && strings.Contains(string(got), secret) {
			t.Errorf("message carries %q: %s", secret, got)
		}
	}
}
