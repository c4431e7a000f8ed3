# Assent: make run starts the server on its embedded default (bbolt under
# ./data); make test runs every test on a fresh machine.
GO      ?= go
BIN     := bin
PKGS    := ./...

.PHONY: all build run demo test test-deps vet bench fmt clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

run: build
	./$(BIN)/assentd

# demo starts assentd with a demo shopper and merchant, and the demo shop
# (cmd/demoshop) beside it: pay at http://localhost:9000, approve in
# `assent device run` (scripts/demo.sh prints the steps).
demo: build
	./scripts/demo.sh

# test installs what the tests need (idempotent), then runs vet and every
# package's tests in parallel with the race detector, then the allocation
# budget tests, which the race detector would skew, without it.
test: test-deps vet
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	$(GO) test -count=1 -run 'Allocations' ./risk

test-deps:
	@./scripts/test-deps.sh

vet:
	$(GO) vet $(PKGS)

# bench runs the Go micro-benchmarks (results also in bench.txt; the push
# round trip at 500/s with a fixed count, alone and with 10,000 idle
# devices connected), then the
# load runs of every `assent bench` scenario against a fresh assentd
# (scripts/bench.sh; the table goes to bench-results.md).
bench:
	$(GO) test -run '^$$' -bench . -skip 'PushApprovalRoundTrip' -benchmem -count 1 $(PKGS) | tee bench.txt
	$(GO) test -run '^$$' -bench 'PushApprovalRoundTrip' -benchtime 2500x -count 1 ./authserver | tee -a bench.txt
	./scripts/bench.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN) bench.txt bench-results.md
