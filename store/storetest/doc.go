// Package storetest is the conformance suite for store.Store. Every backend
// runs it from its own tests with Run, so that all backends keep the same
// contract: sentinel errors, atomic updates under contention (a single-use
// value is consumed once), index uniqueness, records that never outlive
// their user, history kept newest first and trimmed no further than the
// contract allows, audit sequencing and durability across close and reopen.
//
// storetest imports only the store package and the standard library; it must
// never import a backend.
package storetest
