// Package webhook delivers profile and consent events to downstream
// systems (CRM, marketing): a persistent outbox in the store, in-order
// delivery per endpoint with retries and exponential backoff, and each
// request signed with HMAC-SHA256 over its id, timestamp and body so the
// receiver can check where it came from and refuse replays (Verify).
//
// It is an HTTP client only; it serves nothing and must never import
// authserver. What goes into a payload (and so what consent allows) is the
// caller's: authserver builds it with profiles.Service.SyncPayload.
package webhook
