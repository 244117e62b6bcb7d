# The Lambda function package: `make lambda [GOARCH=amd64] MAPPING=path/to/mapping.yaml`
# builds dist/ddb2pg-lambda.zip for the provided.al2023 runtime: the `bootstrap`
# binary (-tags lambda.norpc) with the mapping beside it as mapping.yaml.
# CA_BUNDLE=path (optional) adds a CA bundle beside them under its base name,
# e.g. CA_BUNDLE=global-bundle.pem for
# sslmode=verify-full&sslrootcert=/var/task/global-bundle.pem.
# DIST=dir (default dist) puts the package elsewhere (the build test uses it).
# GOARCH is the function's architecture only: the zip helper is built and run
# for the machine that runs make, so `make lambda GOARCH=arm64` works on amd64.
# Included by the Makefile.

LAMBDA_GOARCH ?= $(if $(filter command line environment,$(origin GOARCH)),$(GOARCH),arm64)
MAPPING ?= examples/orders/mapping.yaml
CA_BUNDLE ?=
DIST ?= dist
LAMBDA_DIR := $(DIST)/lambda
LAMBDA_ZIP := $(DIST)/ddb2pg-lambda.zip
LAMBDA_CA := $(notdir $(CA_BUNDLE))

.PHONY: lambda
lambda:
	@test -f "$(MAPPING)" || { echo "make lambda: MAPPING=$(MAPPING) is not a file" >&2; exit 2; }
	@test -z "$(CA_BUNDLE)" || test -f "$(CA_BUNDLE)" || { echo "make lambda: CA_BUNDLE=$(CA_BUNDLE) is not a file" >&2; exit 2; }
	@case "$(LAMBDA_CA)" in bootstrap|mapping.yaml) echo "make lambda: CA_BUNDLE may not be named $(LAMBDA_CA)" >&2; exit 2;; esac
	rm -rf $(LAMBDA_DIR) $(LAMBDA_ZIP)
	mkdir -p $(LAMBDA_DIR)
	GOOS=linux GOARCH=$(LAMBDA_GOARCH) CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags '-s -w' \
		-o $(LAMBDA_DIR)/bootstrap ./lambda
	cp $(LAMBDA_DIR)/bootstrap $(DIST)/bootstrap
	cp "$(MAPPING)" $(LAMBDA_DIR)/mapping.yaml
	$(if $(CA_BUNDLE),cp "$(CA_BUNDLE)" "$(LAMBDA_DIR)/$(LAMBDA_CA)")
	GOOS=$$(go env GOHOSTOS) GOARCH=$$(go env GOHOSTARCH) go run ./scripts/zip -o $(LAMBDA_ZIP) -C $(LAMBDA_DIR) bootstrap mapping.yaml $(if $(CA_BUNDLE),"$(LAMBDA_CA)")
	@echo "$(LAMBDA_ZIP): bootstrap (linux/$(LAMBDA_GOARCH)) + mapping.yaml from $(MAPPING)$(if $(CA_BUNDLE), + $(LAMBDA_CA) from $(CA_BUNDLE))"
