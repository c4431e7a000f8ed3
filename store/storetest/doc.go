// Package storetest is the conformance suite for store.Store. Every backend
// runs it from its own tests with Run, so that all backends keep the same
// contract: sentinel errors, atomic updates under contention, index
// uniqueness, audit sequencing and durability across close and reopen.
//
// storetest imports only the store package and the standard library; it must
// never import a backend.
package storetest
