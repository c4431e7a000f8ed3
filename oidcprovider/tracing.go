package oidcprovider

import (
	"github.com/zitadel/oidc/v3/pkg/op"
	"go.opentelemetry.io/otel/trace/noop"
)

// Assent does not export traces. The library opens a span in nearly every
// function, and with no tracer provider set the global one still builds a
// span object for each; a no-op tracer saves those allocations (about 4 %
// of them on the refresh grant; docs/PERFORMANCE.md).
func init() {
	op.Tracer = noop.NewTracerProvider().Tracer("")
}
