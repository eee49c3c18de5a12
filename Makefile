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

# Python tools for the tests live in a project virtualenv: moto_server emulates S3 and DynamoDB
# for the AWS backend tests (tests/common finds it through PIRAEUS_MOTO_SERVER).
VENV := .venv
PYTHON ?= python3
PYTHON_REQUIREMENTS := moto[server]>=5.1,<6
PIRAEUS_MOTO_SERVER ?= $(CURDIR)/$(VENV)/bin/moto_server
export PIRAEUS_MOTO_SERVER

# Runs a command as root: directly when we are root, through sudo when it exists.
ifeq ($(shell id -u),0)
  AS_ROOT :=
else
  AS_ROOT := $(if $(shell command -v sudo 2>/dev/null),sudo,)
endif
CAN_INSTALL := $(if $(filter 0,$(shell id -u)),yes,$(if $(AS_ROOT),yes,no))

.PHONY: help run test deps deps-system deps-python lint build bench clean

help: ## List the targets
	@echo "Usage: make <target> [ARGS=...]"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-8s %s\n", $$1, $$2}'

run: ## Build and start the proxy on 127.0.0.1:3000, data in ./piraeus-data (extra flags: ARGS=...)
	$(CARGO) run --release --bin piraeus -- serve $(ARGS)

test: deps ## Install missing tools (go, git, moto in .venv), then run every test
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		echo "+ $(CARGO) nextest run --workspace --no-fail-fast"; \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		echo "+ $(CARGO) test --workspace (cargo-nextest not installed)"; \
		$(CARGO) test --workspace; \
	fi

deps: deps-system deps-python ## Install what the tests need and is missing (no-op when present)

# The go command is both the integration tests' client and the proxy's fetcher; git is what it
# fetches with. Debian's packages are enough (Go 1.19 or newer).
deps-system:
	@command -v $(CARGO) >/dev/null 2>&1 || { \
		echo "error: cargo is not on PATH; install Rust from https://rustup.rs" >&2; exit 1; }
	@missing=""; \
	command -v go >/dev/null 2>&1 || missing="$$missing golang-go"; \
	command -v git >/dev/null 2>&1 || missing="$$missing git"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$(CAN_INSTALL)" != yes ]; then \
		echo "error: missing:$$missing. Install them (Debian/Ubuntu: apt-get install$$missing) and rerun; neither root nor sudo is available here." >&2; \
		exit 1; \
	fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "error: missing:$$missing, and apt-get is not available: install Go and git with your package manager and rerun." >&2; \
		exit 1; \
	fi; \
	echo "+ installing$$missing"; \
	$(AS_ROOT) env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
	$(AS_ROOT) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q$$missing

# The virtualenv is created once; delete .venv to rebuild it. Debian's python3 needs
# python3-venv for `python3 -m venv`.
deps-python:
	@if [ -x "$(PIRAEUS_MOTO_SERVER)" ]; then exit 0; fi; \
	if ! $(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1; then \
		if [ "$(CAN_INSTALL)" != yes ] || ! command -v apt-get >/dev/null 2>&1; then \
			echo "error: $(PYTHON) with the venv module is needed for moto (Debian/Ubuntu: apt-get install python3 python3-venv)" >&2; \
			exit 1; \
		fi; \
		echo "+ installing python3 python3-venv"; \
		$(AS_ROOT) env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
		$(AS_ROOT) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-venv; \
	fi; \
	echo "+ creating $(VENV) with $(PYTHON_REQUIREMENTS)"; \
	rm -rf $(VENV); \
	$(PYTHON) -m venv $(VENV); \
	$(VENV)/bin/pip install --quiet --disable-pip-version-check '$(PYTHON_REQUIREMENTS)'; \
	test -x "$(PIRAEUS_MOTO_SERVER)"

lint: ## Check formatting and clippy warnings
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

build: ## Build the release binary (target/release/piraeus)
	$(CARGO) build --release

bench: ## Measure cold fetch, warm fetch and hit latency over a local git repository
	bash scripts/bench.sh

clean: ## Remove build output; CLEAN_DATA=1 also deletes ./piraeus-data
	$(CARGO) clean
	@if [ "$(CLEAN_DATA)" = 1 ]; then \
		echo "+ rm -rf ./$(DATA_DIR)"; rm -rf ./$(DATA_DIR); \
	elif [ -d ./$(DATA_DIR) ]; then \
		echo "kept ./$(DATA_DIR) (stored modules); make clean CLEAN_DATA=1 deletes it"; \
	fi
