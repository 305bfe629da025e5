# Sluice — build, run, test. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
PKG := github.com/sluice-logs/sluice
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X $(PKG)/version.Version=$(VERSION) -X $(PKG)/version.Commit=$(COMMIT)
BIN := bin
SLUICE_CACHE ?= $(HOME)/.cache/sluice
export SLUICE_CACHE
GOLANGCI_LINT := github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0

.PHONY: help build release run debian-deps chromium test test-short cross bench bench-quick bench-micro fuzz lint fmt fmt-check vet tidy-check zincsearch clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/sluiced and bin/sluice with version and commit baked in
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

RELEASE_PLATFORMS := linux/amd64 linux/arm64

release: ## static binaries for linux/amd64 and linux/arm64 with SHA256SUMS in dist/$(VERSION)/
	@case "$(VERSION)" in *dirty*) echo "release: the tree has uncommitted changes ($(VERSION))"; exit 1;; esac
	rm -rf dist/$(VERSION)
	set -e; for p in $(RELEASE_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; \
		for c in sluiced sluice; do \
			CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" \
				-o dist/$(VERSION)/$$c-$(VERSION)-$$os-$$arch ./cmd/$$c; \
		done; \
	done
	cd dist/$(VERSION) && sha256sum sluice* > SHA256SUMS && cat SHA256SUMS

run: build ## start sluiced on its defaults (HTTP :8080, syslog TCP+UDP :5514)
	./$(BIN)/sluiced

zincsearch: ## build the Elasticsearch-protocol test server (ZincSearch) once into $(SLUICE_CACHE)
	bash scripts/zincsearch.sh

debian-deps: ## install the Debian packages the tests use as real peers (rsyslog, Python), once
	bash scripts/debian-deps.sh

chromium: ## install Debian's chromium for the web page's browser tests (web/browser_test.go), once
	bash scripts/debian-deps.sh chromium

test: zincsearch debian-deps chromium fmt-check vet cross ## install the test servers and run the whole suite with -race
	$(GO) test -race -shuffle=on -count=1 -timeout 20m ./...

cross: ## build everything for 32-bit and arm64 Linux and for macOS (the amd64 assembly and 64-bit constants have fallbacks)
	GOARCH=386 $(GO) build ./...
	GOARCH=arm64 $(GO) build ./...
	GOOS=darwin GOARCH=arm64 $(GO) build ./...

test-short: ## the suite with -short and without the race detector, for a quick loop
	$(GO) test -short -count=1 ./...

bench: ## end-to-end benchmark against rsyslog on this machine; writes benchmarks/RESULTS.md
	bash benchmarks/run.sh

bench-quick: ## the same with 200k messages and one run (RESULTS.md untouched)
	bash benchmarks/run.sh --quick

bench-micro: ## the Go micro-benchmarks beside the code
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./ingest/... ./buffer/... ./drains/... ./tail/...

FUZZTIME ?= 30s
fuzz: ## run every fuzz target in the repository (func Fuzz…), each for FUZZTIME (default 30s)
	GO=$(GO) FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

lint: ## golangci-lint (pinned) with .golangci.yml
	$(GO) run $(GOLANGCI_LINT) run ./...

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

tidy-check: ## go.mod and go.sum are tidy
	$(GO) mod tidy -diff

clean:
	rm -rf $(BIN)
