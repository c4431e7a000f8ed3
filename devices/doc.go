// Package devices owns a user's strong authenticators as records behind the
// store: passkeys (WebAuthn credentials, with their sign counters and backup
// flags), TOTP seeds (sealed at rest) and recovery codes (kept only as
// hashes), and the enrolled instances of the company's mobile app (their
// P-256 keys, enrolled with one-time codes). It runs the WebAuthn
// ceremonies' verification, checks TOTP codes and consumes single-use
// values exactly once.
//
// It knows nothing of HTTP and must never import authserver; callers keep
// the short-lived ceremony state and bind it to the browser.
package devices
