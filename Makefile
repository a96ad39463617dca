# visionbot: build, run, test, bench, lint.
GO      ?= go
BIN     := bin/visionbot

.PHONY: build run test bench lint vet fmt-check staticcheck clean

## build: a static binary in bin/visionbot
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/visionbot

## run: build, then run the bot with the settings in .env (created from .env.example on first use)
run: build
	@if [ ! -f .env ]; then \
		cp .env.example .env; \
		echo "Created .env from .env.example. Put your Slack and Gemini credentials in it (README: Setup), then run 'make run' again."; \
		exit 2; \
	fi
	./$(BIN)

## test: every test, with the race detector
# The shared queue's tests (bot/queue) run one at a time: they hold real
# one-second leases, which a starved CPU would let expire.
test:
	$(GO) test -race -count=1 ./...

## bench: run the real bot against the emulators under load; prints the table of
## docs/benchmarks.md and writes the raw results to docs/benchmarks.json
bench: build
	$(GO) run ./cmd/visionbench -bin $(BIN) -json docs/benchmarks.json -pprof bench/pprof

## lint: formatting, go vet and staticcheck
lint: fmt-check vet staticcheck

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# staticcheck at a pinned version, fetched through the module proxy: no
# binary to install, the same checks on every machine. v0.8 supports Go 1.26.
STATICCHECK_VERSION := v0.8.2

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

clean:
	rm -rf bin
