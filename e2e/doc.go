// Package e2e holds end-to-end tests that build the assentd and assent
// binaries once, run the server on a temporary data directory, and drive it
// over HTTP and through the CLI as an operator would.
package e2e
