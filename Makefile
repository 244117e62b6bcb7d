# ddb2pg's entry points. Tests and the demo run against the local stack of
# scripts/stack.sh (PostgreSQL 15, MinIO, DynamoDB Local on loopback), whose
# binaries scripts/install-deps.sh installs into ~/.cache/ddb2pg once.
# Fragments in mk/*.mk add their own targets.

SHELL := bash
.DEFAULT_GOAL := build

GO           ?= go
PKGS         ?= ./...
TEST_TIMEOUT ?= 25m
SOAK_TIMEOUT ?= 60m
# Extra flags for go test, e.g. make test TEST_FLAGS='-run Backfill -v'
TEST_FLAGS   ?=

.PHONY: build deps test lint vet fmt-check soak demo bench

build:
	$(GO) build -o bin/ddb2pg ./cmd/ddb2pg

# Installs (or finds) PostgreSQL 15, Java, MinIO and DynamoDB Local.
deps:
	@scripts/install-deps.sh >/dev/null

vet:
	$(GO) vet $(PKGS)

# Every Go file of the work tree that git does not ignore, tracked or not.
fmt-check:
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
		files=$$(git ls-files -co --exclude-standard -- '*.go' | while read -r f; do [ -f "$$f" ] && echo "$$f"; done); \
	else \
		files=$$(find . -name '*.go' -not -path './.cache/*' -not -path './vendor/*'); \
	fi; \
	bad=$$(gofmt -l $$files); \
	if [ -n "$$bad" ]; then echo "gofmt: these files are not formatted (gofmt -w them):"; echo "$$bad"; exit 1; fi; \
	echo "gofmt: ok"

lint: vet fmt-check

# vet, the gofmt check and the tests all run, so that one failing does not hide
# the others; make fails if any did. The tests get a private stack, stopped
# however they end.
test: deps
	@rc=0; \
	echo "$(GO) vet $(PKGS)"; $(GO) vet $(PKGS) || rc=1; \
	$(MAKE) --no-print-directory fmt-check || rc=1; \
	$(MAKE) --no-print-directory terraform-fmt terraform-lint || rc=1; \
	echo "$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) $(PKGS)"; \
	scripts/stack.sh run -- $(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) $(PKGS) || rc=1; \
	exit $$rc

soak: deps
	scripts/stack.sh run -- $(GO) test -tags soak -run Soak -count=1 -timeout $(SOAK_TIMEOUT) $(TEST_FLAGS) $(PKGS)

demo:
	scripts/demo.sh

bench:
	scripts/bench.sh

-include $(wildcard mk/*.mk)
