# Piraeus: a Go module proxy that keeps an immutable copy of every module version it serves.
# `make help` lists the targets.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
# Extra arguments for `piraeus serve` in `make run`, e.g. make run ARGS='--listen 0.0.0.0:3000'
ARGS ?=
# `make clean CLEAN_DATA=1` also deletes ./piraeus-data (the stored modules).
CLEAN_DATA ?= 0
DATA_DIR := piraeus-data

# Python tools live in a project virtualenv: moto_server emulates S3 and DynamoDB, cargo-lambda
# emulates Lambda (make stack), cfn-lint and the SAM CLI check and deploy template.yaml. The tests
# find them through the PIRAEUS_* variables exported here.
VENV := .venv
PYTHON ?= python3
PYTHON_REQUIREMENTS := 'moto[server]>=5.1,<6' 'cargo-lambda>=1.8,<2' 'cfn-lint>=1.20,<2' 'aws-sam-cli>=1.130,<2'
VENV_STAMP := $(VENV)/.piraeus-requirements
PIRAEUS_VENV ?= $(CURDIR)/$(VENV)
# moto_server through scripts/moto-server, which serialises requests (see there why).
PIRAEUS_MOTO_SERVER ?= $(CURDIR)/scripts/moto-server
PIRAEUS_CARGO_LAMBDA ?= $(PIRAEUS_VENV)/bin/cargo-lambda
export PIRAEUS_VENV PIRAEUS_MOTO_SERVER PIRAEUS_CARGO_LAMBDA
SAM := $(PIRAEUS_VENV)/bin/sam
CFN_LINT := $(PIRAEUS_VENV)/bin/cfn-lint
export SAM_CLI_TELEMETRY := 0

# Lambda binaries: arm64 (Graviton) as template.yaml declares. cargo lambda cross-compiles with
# Zig when it is installed; without Zig, `--compiler cargo` needs the Rust target
# aarch64-unknown-linux-gnu and an aarch64 linker (Debian: gcc-aarch64-linux-gnu).
LAMBDA_COMPILER ?= $(if $(shell command -v zig 2>/dev/null),zig,cargo)
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER ?= aarch64-linux-gnu-gcc
# The Go toolchain in the fetch function's layer is pinned, with its checksum, in
# infra/layer/build.sh; another version needs both: make layer GO_VERSION=... GO_SHA256=...
GO_VERSION ?=
GO_SHA256 ?=

# Runs a command as root: directly when we are root, through sudo when it exists.
ifeq ($(shell id -u),0)
  AS_ROOT :=
else
  AS_ROOT := $(if $(shell command -v sudo 2>/dev/null),sudo,)
endif
CAN_INSTALL := $(if $(filter 0,$(shell id -u)),yes,$(if $(AS_ROOT),yes,no))

REQUIRE_CARGO = command -v $(CARGO) >/dev/null 2>&1 || { \
	echo "error: cargo is not on PATH; install Rust from https://rustup.rs" >&2; exit 1; }
# The end of a recipe line that has put the missing Debian packages in the shell variable
# `missing`: installs them with apt-get (as root, or through sudo), or says what to install.
INSTALL_MISSING = if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$(CAN_INSTALL)" != yes ]; then \
		echo "error: missing:$$missing. Install them (Debian/Ubuntu: apt-get install$$missing) and rerun; neither root nor sudo is available here." >&2; \
		exit 1; \
	fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "error: missing:$$missing, and apt-get is not available: install them with your package manager and rerun." >&2; \
		exit 1; \
	fi; \
	echo "+ installing$$missing"; \
	$(AS_ROOT) env DEBIAN_FRONTEND=noninteractive timeout 900 apt-get update -q; \
	$(AS_ROOT) env DEBIAN_FRONTEND=noninteractive timeout 1800 apt-get install -y -q$$missing

.PHONY: help run test deps deps-system deps-python lint build layer deploy stack bench soak clean

help: ## List the targets
	@echo "Usage: make <target> [ARGS=...]"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-8s %s\n", $$1, $$2}'

run: ## Build and start the proxy on 127.0.0.1:3000, data in ./piraeus-data (extra flags: ARGS=...)
	$(CARGO) run --release --bin piraeus -- serve $(ARGS)

# Runs tests with cargo-nextest, or with cargo test when cargo-nextest is not installed:
# $(call RUN_TESTS,<arguments after `nextest run`>,<arguments after `test`>)
RUN_TESTS = if $(CARGO) nextest --version >/dev/null 2>&1; then \
		echo "+ $(CARGO) nextest run $(1)"; \
		$(CARGO) nextest run $(1); \
	else \
		echo "+ $(CARGO) test $(2) (cargo-nextest not installed)"; \
		$(CARGO) test $(2); \
	fi

test: deps ## Install missing tools (go, git, node; moto, cargo-lambda, cfn-lint, sam in .venv), run every test
	@$(call RUN_TESTS,--workspace --no-fail-fast,--workspace)

deps: deps-system deps-python ## Install what the tests need and is missing (no-op when present)

# The go command is both the integration tests' client and the proxy's fetcher; git is what it
# fetches with; node runs the CloudFront function (the template tests, make stack's edge); curl
# makes the range and conditional requests in the tests; golang.org/x/mod (Debian ships it in
# /usr/share/gocode) builds the tests' checksum database, tests/sumdb-server.
# Debian's packages are enough (Go 1.19 or newer, Node.js 18 or newer).
deps-system:
	@$(REQUIRE_CARGO)
	@missing=""; \
	command -v go >/dev/null 2>&1 || missing="$$missing golang-go"; \
	command -v git >/dev/null 2>&1 || missing="$$missing git"; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	test -d /usr/share/gocode/src/golang.org/x/mod/sumdb || missing="$$missing golang-golang-x-mod-dev"; \
	test -x /usr/sbin/sshd || missing="$$missing openssh-server"; \
	command -v ssh-keygen >/dev/null 2>&1 || missing="$$missing openssh-client"; \
	$(INSTALL_MISSING)

# The virtualenv is (re)built when the requirements change; delete .venv to force it. Debian's
# python3 needs python3-venv for `python3 -m venv`.
deps-python:
	@wanted=$$(printf '%s\n' $(PYTHON_REQUIREMENTS)); \
	if [ -f "$(VENV_STAMP)" ] && [ "$$(cat $(VENV_STAMP))" = "$$wanted" ]; then exit 0; fi; \
	if ! $(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1; then \
		if [ "$(CAN_INSTALL)" != yes ] || ! command -v apt-get >/dev/null 2>&1; then \
			echo "error: $(PYTHON) with the venv module is needed for the test tools (Debian/Ubuntu: apt-get install python3 python3-venv)" >&2; \
			exit 1; \
		fi; \
		echo "+ installing python3 python3-venv"; \
		$(AS_ROOT) env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
		$(AS_ROOT) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-venv; \
	fi; \
	echo "+ creating $(VENV) with $(PYTHON_REQUIREMENTS)"; \
	rm -rf $(VENV); \
	$(PYTHON) -m venv $(VENV); \
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(PYTHON_REQUIREMENTS); \
	test -x "$(VENV)/bin/moto_server" && test -x "$(PIRAEUS_CARGO_LAMBDA)" && test -x "$(SAM)"; \
	echo "$$wanted" > $(VENV_STAMP)

lint: deps-python ## Check formatting, clippy warnings, and template.yaml (cfn-lint, sam validate)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CFN_LINT) template.yaml
	$(SAM) validate --lint --region us-east-1 --template-file template.yaml

# -p piraeus-functions: the functions' package alone. Without it cargo resolves features for the
# whole workspace, and the functions get what only the `piraeus` command needs in the shared
# dependencies (aws-config's SSO and credential_process providers, SigV4a, SQLite).
# Serve and prefetch use the `lambda-small` profile (optimised for size, see Cargo.toml); fetch stays on
# `release` (speed: it unzips and hashes whole modules), to which cargo lambda adds panic=abort.
build: deps-python ## Build the three Lambda functions for arm64 (target/lambda/*/bootstrap)
	$(PIRAEUS_CARGO_LAMBDA) lambda build --profile lambda-small --arm64 --compiler $(LAMBDA_COMPILER) \
		-p piraeus-functions --bin piraeus-serve --bin piraeus-prefetch
	$(PIRAEUS_CARGO_LAMBDA) lambda build --release --arm64 --compiler $(LAMBDA_COMPILER) \
		-p piraeus-functions --bin piraeus-fetch

layer: ## Package the pinned Go (GO_VERSION) and git as the fetch function's layer (network, docker)
	$(if $(GO_VERSION),GO_VERSION=$(GO_VERSION) GO_SHA256=$(GO_SHA256),) bash infra/layer/build.sh

deploy: deps-python ## sam build + sam deploy (first time: make deploy GUIDED=1); builds the layer if missing (NO_GO_LAYER=1: not needed)
	@if [ -n "$(NO_GO_LAYER)" ]; then \
		echo "deploy: no Go layer; Upstream must have no direct and GoPrivate be empty (docs/deploy.md)"; \
		mkdir -p build/layer; \
	elif [ ! -x build/layer/go/bin/go ]; then $(MAKE) layer; fi
	PATH="$(PIRAEUS_VENV)/bin:$$PATH" CARGO_LAMBDA_COMPILER=$(LAMBDA_COMPILER) $(SAM) build --beta-features
	$(SAM) deploy $(if $(GUIDED),--guided,)

stack: deps ## Run the serverless stack locally (moto + cargo lambda watch + a local edge); prints GOPROXY=...
	@bash scripts/stack.sh

# The bench loads Piraeus and, as the reference, nginx serving the same data directory with wrk,
# and times go mod download through it against GOPROXY=direct. What is missing is installed as
# in deps-system. Debian's nginx is enough (nginx-light only adds a module); the bench runs its
# own nginx on a loopback port with its own configuration, and leaves any nginx service alone.
# Knobs (DURATION, RUNS, ...) are described at the top of scripts/bench.sh.
bench: ## Piraeus against nginx (hits, wrk) and GOPROXY=direct (downloads): ratios and goals
	@$(REQUIRE_CARGO)
	@missing=""; \
	command -v go >/dev/null 2>&1 || missing="$$missing golang-go"; \
	command -v git >/dev/null 2>&1 || missing="$$missing git"; \
	command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	command -v wrk >/dev/null 2>&1 || missing="$$missing wrk"; \
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	$(INSTALL_MISSING)
	CARGO=$(CARGO) bash scripts/bench.sh

# The soak test's longer run: SOAK_ROUNDS rounds of SOAK_CLIENTS concurrent go clients over
# SOAK_MODULES modules, with upstream outages and SIGKILLs; prints its figures.
SOAK_ROUNDS ?= 30
SOAK_CLIENTS ?= 6
SOAK_MODULES ?= 6
soak: export PIRAEUS_SOAK_ROUNDS = $(SOAK_ROUNDS)
soak: export PIRAEUS_SOAK_CLIENTS = $(SOAK_CLIENTS)
soak: export PIRAEUS_SOAK_MODULES = $(SOAK_MODULES)
soak: deps ## Long soak: concurrent clients, upstream outages, SIGKILL mid-fetch; nothing may be lost
	@echo "+ PIRAEUS_SOAK_ROUNDS=$(SOAK_ROUNDS) PIRAEUS_SOAK_CLIENTS=$(SOAK_CLIENTS) PIRAEUS_SOAK_MODULES=$(SOAK_MODULES)"
	@$(call RUN_TESTS,--test integration --no-capture soak::,--test integration soak:: -- --nocapture)

clean: ## Remove build output; CLEAN_DATA=1 also deletes ./piraeus-data
	$(CARGO) clean
	@if [ "$(CLEAN_DATA)" = 1 ]; then \
		echo "+ rm -rf ./$(DATA_DIR)"; rm -rf ./$(DATA_DIR); \
	elif [ -d ./$(DATA_DIR) ]; then \
		echo "kept ./$(DATA_DIR) (stored modules); make clean CLEAN_DATA=1 deletes it"; \
	fi
