# Assent: make run starts the server on its embedded default (bbolt under
# ./data); make test runs every test on a fresh machine.
GO      ?= go
BIN     := bin
PKGS    := ./...

.PHONY: all build run test test-deps vet bench fmt clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

run: build
	./$(BIN)/assentd

# test installs what the tests need (idempotent), then runs vet and every
# package's tests in parallel with the race detector.
test: test-deps vet
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

test-deps:
	@./scripts/test-deps.sh

vet:
	$(GO) vet $(PKGS)

# bench runs the Go micro-benchmarks; results go to bench.txt as well.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 $(PKGS) | tee bench.txt

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN) bench.txt
