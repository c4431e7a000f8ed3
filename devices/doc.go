// Package devices will own the enrolled instances of the company's mobile
// app: one-time enrollment codes, each device's P-256 public key and proof of
// possession, push tokens, renaming and revocation.
//
// It knows nothing of HTTP and must never import authserver.
package devices
