#!/usr/bin/env bash
# Installs what the test suite needs, once. Safe to run again.
set -euo pipefail
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="$PATH:/usr/local/go/bin"
fi
command -v go >/dev/null || { echo "test-deps: Go 1.26 is required (https://go.dev/dl/)" >&2; exit 1; }
go mod download
