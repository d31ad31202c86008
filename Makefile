# Factory OS — the two commands a newcomer runs are `make demo` and `make test`.
# Every target installs what it needs, idempotently: Python packages into
# .venv/ in the clone, Kilroy (pinned in tools/go/go.mod) into .tools/bin/,
# slow builds cached under $(CACHE), keyed by the pinned version.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools/bin
CACHE ?= $(HOME)/.cache/factoryos
GO ?= go
KILROY_MODULE := github.com/danshapiro/kilroy
KILROY_VERSION := $(shell awk '$$1 == "$(KILROY_MODULE)" {print $$2} $$2 == "$(KILROY_MODULE)" {print $$3}' tools/go/go.mod | head -n1)
KILROY_CACHE := $(CACHE)/kilroy/$(KILROY_VERSION)/bin
PYTEST_ARGS ?=

.PHONY: help venv tools kilroy k8s-bin helm-bin demo test lint typecheck importlint unit integration generate crds schemas check-generated bench clean distclean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Factory OS needs Python >= 3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(BIN)/.installed ## Create .venv and install Factory OS with its dev tools

tools: kilroy ## Install the external tools (Kilroy) into .tools/bin

kilroy: $(TOOLS)/kilroy
$(TOOLS)/kilroy: tools/go/go.mod tools/go/go.sum
	@command -v $(GO) >/dev/null || { echo "Go >= 1.25 is needed to build Kilroy: install it from your distribution or the Go site, then rerun make"; exit 1; }
	@mkdir -p $(TOOLS) $(KILROY_CACHE)
	@if [ ! -x $(KILROY_CACHE)/kilroy ]; then \
	  echo "building kilroy $(KILROY_VERSION) into $(KILROY_CACHE) ..."; \
	  cd tools/go && GOBIN=$(KILROY_CACHE) GOFLAGS=-mod=mod $(GO) install $(KILROY_MODULE)/cmd/kilroy; \
	fi
	@cp -f $(KILROY_CACHE)/kilroy $@
	@$@ --version

k8s-bin: ## Build kube-apiserver, kubectl and etcd (pinned in tools/k8s/versions.env) into the cache
	@command -v $(GO) >/dev/null || { echo "Go >= 1.26 is needed to build the Kubernetes test binaries"; exit 1; }
	@bash tools/k8s/build.sh >/dev/null

helm-bin: ## Build helm (pinned in tools/k8s/versions.env) into the cache, for the chart tests
	@bash tools/k8s/helm.sh >/dev/null

DEMO_HOME ?= $(or $(FACTORYOS_HOME),$(HOME)/.factoryos)

demo: venv tools ## Start the embedded factory and run the smoke product end to end
	@echo "== sf pipeline validate (the example pipelines and the smoke product's)"
	@PATH=$(CURDIR)/$(TOOLS):$$PATH $(BIN)/sf pipeline validate examples/pipelines/*.dot examples/products/smoke/pipeline.dot
	@echo
	@PATH=$(CURDIR)/$(BIN):$(CURDIR)/$(TOOLS):$$PATH FACTORYOS_HOME=$(DEMO_HOME) bash examples/demo.sh

test: venv tools lint typecheck importlint check-generated unit integration ## Run the whole test suite
	@echo "make test: all checks passed"

lint: venv ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv ## mypy --strict on the package
	$(BIN)/mypy -p factoryos

importlint: venv ## import-linter layer contracts
	$(BIN)/lint-imports

unit: venv ## Fast, pure tests
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: venv tools k8s-bin helm-bin ## Tests against real processes (Kilroy, kube-apiserver + etcd, ...)
	PATH=$(CURDIR)/$(TOOLS):$$PATH $(BIN)/pytest tests/integration $(PYTEST_ARGS)

generate: crds schemas ## Regenerate everything derived from the models

crds: venv ## Generate crds/*.yaml from the models
	$(BIN)/python -m factoryos.codegen crds

schemas: venv ## Generate factoryos/schemas/*.json from the models
	$(BIN)/python -m factoryos.codegen schemas

check-generated: venv ## Fail when crds/ or schemas/ are stale
	$(BIN)/python -m factoryos.codegen --check all

bench: venv tools ## Run the benchmarks in bench/ (several minutes)
	PATH=$(CURDIR)/$(TOOLS):$$PATH $(BIN)/python bench/pipeline_overhead.py
	PATH=$(CURDIR)/$(TOOLS):$$PATH $(BIN)/python bench/controlplane.py

clean: ## Remove build outputs in the clone
	rm -rf build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache

distclean: clean ## Also remove .venv and .tools
	rm -rf $(VENV) .tools
