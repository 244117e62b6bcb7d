# The Lambda function package: `make lambda [GOARCH=amd64] MAPPING=path/to/mapping.yaml`
# builds dist/ddb2pg-lambda.zip for the provided.al2023 runtime: the `bootstrap`
# binary (-tags lambda.norpc) with the mapping beside it as mapping.yaml.
# Included by the Makefile.

LAMBDA_GOARCH ?= $(if $(filter command line environment,$(origin GOARCH)),$(GOARCH),arm64)
MAPPING ?= examples/orders/mapping.yaml
LAMBDA_DIR := dist/lambda

.PHONY: lambda
lambda:
	@test -f "$(MAPPING)" || { echo "make lambda: MAPPING=$(MAPPING) is not a file" >&2; exit 2; }
	rm -rf $(LAMBDA_DIR) dist/ddb2pg-lambda.zip
	mkdir -p $(LAMBDA_DIR)
	GOOS=linux GOARCH=$(LAMBDA_GOARCH) CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags '-s -w' \
		-o $(LAMBDA_DIR)/bootstrap ./lambda
	cp dist/lambda/bootstrap dist/bootstrap
	cp "$(MAPPING)" $(LAMBDA_DIR)/mapping.yaml
	go run ./scripts/zip -o dist/ddb2pg-lambda.zip -C $(LAMBDA_DIR) bootstrap mapping.yaml
	@echo "dist/ddb2pg-lambda.zip: bootstrap (linux/$(LAMBDA_GOARCH)) + mapping.yaml from $(MAPPING)"
