# Checks of terraform/ (included by the Makefile; `make terraform-check`).
#
# 1. Formatting: `terraform fmt -check -recursive terraform/` when terraform
#    is on PATH. Without it (terraform is in neither Debian's archive nor the
#    Go module proxy) the same check is made with hclfmt, built from
#    hashicorp/hcl: hclwrite's formatter, which `terraform fmt` is built on.
#    Which of the two ran is printed; neither is skipped silently.
# 2. tflint with its bundled terraform ruleset (terraform/.tflint.hcl),
#    installed from the Go module proxy into the cache. If it cannot be
#    installed, the step says so and is skipped, visibly.
# 3. `terraform validate` is never run: it needs the hashicorp/aws provider
#    from registry.terraform.io, which these machines cannot reach. The Go
#    test terraform/hcltest checks what can be checked without a provider
#    (references, module calls, IAM, the event source mapping, the Lambda's
#    environment) and runs here and in `go test ./...`.

TF_DIR           ?= terraform
TF_CACHE         ?= $(or $(DDB2PG_CACHE),$(HOME)/.cache/ddb2pg)
TFLINT_VERSION   ?= v0.64.0
HCLFMT_VERSION   ?= v2.25.0
TFLINT_BIN       := $(TF_CACHE)/tflint-$(TFLINT_VERSION)/tflint
HCLFMT_BIN       := $(TF_CACHE)/hclfmt-$(HCLFMT_VERSION)/hclfmt

.PHONY: terraform-check terraform-fmt terraform-lint terraform-hcltest

terraform-check: terraform-fmt terraform-lint terraform-hcltest

# A TF_CLI_CONFIG_FILE naming a missing file makes terraform warn on every
# run; fmt reads no CLI configuration, so it gets an empty one then.
terraform-fmt:
	@set -e; \
	if command -v terraform >/dev/null 2>&1; then \
		if [ -n "$$TF_CLI_CONFIG_FILE" ] && [ ! -e "$$TF_CLI_CONFIG_FILE" ]; then export TF_CLI_CONFIG_FILE=/dev/null; fi; \
		echo "terraform-check: terraform fmt -check -recursive $(TF_DIR)/ ($$(terraform version | head -n1))"; \
		terraform fmt -check -recursive -diff $(TF_DIR)/ || { echo "terraform-check: FAILED: run terraform fmt -recursive $(TF_DIR)/"; exit 1; }; \
	else \
		echo "terraform-check: terraform is not installed, so 'terraform fmt' was NOT run;"; \
		echo "terraform-check: checking formatting with hclfmt $(HCLFMT_VERSION) instead (hclwrite, the formatter terraform fmt is built on)"; \
		if [ ! -x "$(HCLFMT_BIN)" ]; then \
			mkdir -p "$(dir $(HCLFMT_BIN))"; \
			GOBIN="$(dir $(HCLFMT_BIN))" GOFLAGS=-mod=mod go install github.com/hashicorp/hcl/v2/cmd/hclfmt@$(HCLFMT_VERSION); \
		fi; \
		files=$$(find $(TF_DIR) -name '*.tf' -not -path '*/.terraform/*' | sort); \
		"$(HCLFMT_BIN)" -require-no-change $$files >/dev/null || { echo "terraform-check: FAILED: files above are not formatted (terraform fmt -recursive $(TF_DIR)/ fixes them)"; exit 1; }; \
	fi; \
	echo "terraform-check: formatting ok"

terraform-lint:
	@set -e; \
	if [ ! -x "$(TFLINT_BIN)" ]; then \
		echo "terraform-check: installing tflint $(TFLINT_VERSION) from the Go module proxy into $(dir $(TFLINT_BIN))"; \
		mkdir -p "$(dir $(TFLINT_BIN))"; \
		if ! GOBIN="$(dir $(TFLINT_BIN))" GOFLAGS=-mod=mod go install github.com/terraform-linters/tflint@$(TFLINT_VERSION) 2>"$(dir $(TFLINT_BIN))install.log"; then \
			echo "terraform-check: tflint SKIPPED: go install github.com/terraform-linters/tflint@$(TFLINT_VERSION) failed:"; \
			tail -n 5 "$(dir $(TFLINT_BIN))install.log" | sed 's/^/terraform-check:   /'; \
			exit 0; \
		fi; \
	fi; \
	echo "terraform-check: tflint --recursive ($$("$(TFLINT_BIN)" --version | head -n1), bundled terraform ruleset, preset all)"; \
	cd $(TF_DIR) && "$(TFLINT_BIN)" --recursive --config "$$PWD/.tflint.hcl" --minimum-failure-severity=notice; \
	echo "terraform-check: tflint ok"

terraform-hcltest:
	@echo "terraform-check: terraform validate NOT run (it needs the hashicorp/aws provider from registry.terraform.io, unreachable here); running terraform/hcltest instead"
	go test -count=1 ./$(TF_DIR)/hcltest
