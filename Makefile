# visionbot: build, run, test, lint.
GO      ?= go
BIN     := bin/visionbot

.PHONY: build run test lint vet fmt-check clean

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
test:
	$(GO) test -race -count=1 ./...

## lint: formatting and go vet
lint: fmt-check vet

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

clean:
	rm -rf bin
