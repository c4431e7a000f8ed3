#!/usr/bin/env bash
# Installs what the test suite needs, once. Safe to run again.
set -euo pipefail
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="$PATH:/usr/local/go/bin"
fi
command -v go >/dev/null || { echo "test-deps: Go 1.26 is required (https://go.dev/dl/)" >&2; exit 1; }
go mod download

# The browser test drives Debian's chromium with a virtual authenticator, and
# the TOTP tests check codes from Debian's oathtool: install what is missing.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v oathtool >/dev/null 2>&1 || missing+=(oathtool)
if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || { echo "test-deps: install ${missing[*]} (the browser and TOTP tests need them)" >&2; exit 1; }
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "test-deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
