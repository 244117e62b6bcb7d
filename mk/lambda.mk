# The Lambda function package: `make lambda [GOARCH=amd64] MAPPING=path/to/mapping.yaml`
# builds dist/ddb2pg-lambda.zip for the provided.al2023 runtime: the `bootstrap`
# binary (-tags lambda.norpc) with the mapping beside it as mapping.yaml.
# CA_BUNDLE=path (optional) adds a CA bundle beside them under its base name,
# e.g. CA_BUNDLE=global-bundle.pem for
# sslmode=verify-full&sslrootcert=/var/task/global-bundle.pem.
# Included by the Makefile.

LAMBDA_GOARCH ?= $(if $(filter command line environment,$(origin GOARCH)),$(GOARCH),arm64)
MAPPING ?= examples/orders/mapping.yaml
CA_BUNDLE ?=
LAMBDA_DIR := dist/lambda
LAMBDA_CA := $(notdir $(CA_BUNDLE))

.PHONY: lambda
lambda:
	@test -f "$(MAPPING)" || { echo "make lambda: MAPPING=$(MAPPING) is not a file" >&2; exit 2; }
	@test -z "$(CA_BUNDLE)" || test -f "$(CA_BUNDLE)" || { echo "make lambda: CA_BUNDLE=$(CA_BUNDLE) is not a file" >&2; exit 2; }
	@case "$(LAMBDA_CA)" in bootstrap|mapping.yaml) echo "make lambda: CA_BUNDLE may not be named $(LAMBDA_CA)" >&2; exit 2;; esac
	rm -rf $(LAMBDA_DIR) dist/ddb2pg-lambda.zip
	mkdir -p $(LAMBDA_DIR)
	GOOS=linux GOARCH=$(LAMBDA_GOARCH) CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags '-s -w' \
		-o $(LAMBDA_DIR)/bootstrap ./lambda
	cp dist/lambda/bootstrap dist/bootstrap
	cp "$(MAPPING)" $(LAMBDA_DIR)/mapping.yaml
	$(if $(CA_BUNDLE),cp "$(CA_BUNDLE)" "$(LAMBDA_DIR)/$(LAMBDA_CA)")
	go run ./scripts/zip -o dist/ddb2pg-lambda.zip -C $(LAMBDA_DIR) bootstrap mapping.yaml $(if $(CA_BUNDLE),"$(LAMBDA_CA)")
	@echo "dist/ddb2pg-lambda.zip: bootstrap (linux/$(LAMBDA_GOARCH)) + mapping.yaml from $(MAPPING)$(if $(CA_BUNDLE), + $(LAMBDA_CA) from $(CA_BUNDLE))"
