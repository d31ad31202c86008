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

.PHONY: cluster-bin cluster-up cluster-down cluster-status help venv tools agents sandbox graphviz browser stack-tools selftest kilroy k8s-bin helm-bin kind kind-up images kind-load deploy undeploy e2e bench-cluster kind-down demo test test-fast lint typecheck importlint unit integration integration-fast generate crds schemas check-generated bench api-contract chaos clean distclean

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml setup.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Factory OS needs Python >= 3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,voice]'
	@# factoryos is one namespace over four source roots (setup.py): put them on the
	@# venv's path so every tool (pytest, mypy, import-linter) finds each module at its one file.
	@printf '%s\n' $(CURDIR) $(CURDIR)/cli $(CURDIR)/ui $(CURDIR)/controller \
	  > "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/factoryos-source-roots.pth"
	@touch $@

venv: $(BIN)/.installed ## Create .venv and install Factory OS with its dev tools

tools: kilroy agents sandbox ## Install the external tools (Kilroy, the agent CLIs) into .tools/bin, and bubblewrap

agents: ## Install the pinned coding-agent CLIs (codex, claude, gemini: tools/agents/) into .tools/bin; skipped without Node.js >= 20
	@bash tools/agents/install.sh

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

cluster-bin: ## Build the single-node cluster's binaries (kubelet, kube-proxy, containerd, CoreDNS, ...) into the cache
	@bash tools/cluster/build.sh >/dev/null

cluster-up: ## Start a single-node Kubernetes on this host (root; tools/cluster/up.sh) and print its context
	@bash tools/cluster/up.sh

cluster-down: ## Stop the single-node cluster and restore the host (processes, mounts, cgroups, routes, sysctls)
	@bash tools/cluster/down.sh

cluster-status: ## Show the single-node cluster's components and node
	@bash tools/cluster/status.sh

KIND_VERSION := $(shell awk -F= '$$1 == "KIND_VERSION" {print $$2}' tools/k8s/versions.env)
KIND := $(CACHE)/kind/$(KIND_VERSION)/bin/kind
KIND_CLUSTER ?= factoryos
IMAGE ?= factoryos-runner:dev
KUBECTL = $(shell bash tools/k8s/build.sh)/kubectl
KIND_CONTEXT := kind-$(KIND_CLUSTER)

kind: $(KIND) ## Install kind (pinned in tools/k8s/versions.env) into the cache
$(KIND):
	@command -v $(GO) >/dev/null || { echo "Go is needed to install kind"; exit 1; }
	GOBIN=$(dir $(KIND)) GOFLAGS=-modcacherw CGO_ENABLED=0 $(GO) install sigs.k8s.io/kind@$(KIND_VERSION)

define need_docker
	@command -v docker >/dev/null && docker info >/dev/null 2>&1 || { echo "$(1) needs a running Docker engine (docker info failed)"; exit 1; }
endef

kind-up: kind k8s-bin ## Create the local kind cluster (a GPU-labelled worker) if it does not exist
	$(call need_docker,kind-up)
	@$(KIND) get clusters | grep -qx $(KIND_CLUSTER) || $(KIND) create cluster --name $(KIND_CLUSTER) --config tools/k8s/kind-cluster.yaml --wait 180s
	@node=$$($(KUBECTL) --context $(KIND_CONTEXT) get nodes -l factoryos.dev/gpu=true -o name | head -n1); \
	  $(KUBECTL) --context $(KIND_CONTEXT) patch $$node --subresource=status --type=merge \
	    -p '{"status":{"capacity":{"nvidia.com/gpu":"1"}}}' >/dev/null
	@echo "kind cluster $(KIND_CLUSTER) is up (context $(KIND_CONTEXT))"

images: ## Build the Factory OS and CPU voice images with no registry (root) and load them into the node when it is up
	@tars="$$(bash tools/images/build.sh)"; bash tools/images/load.sh $$tars

kind-load: kind ## Load the images `make images` built into the kind cluster (needs Docker)
	$(call need_docker,kind-load)
	@for tar in $$(bash tools/images/build.sh); do docker load -i "$$tar"; done
	$(KIND) load docker-image $(IMAGE) factoryos-voice:cpu --name $(KIND_CLUSTER)

DEPLOY_WITH ?= kustomize
CONTEXT ?= factoryos-local
DEPLOY_ARGS ?=

deploy: k8s-bin helm-bin ## Install Factory OS on CONTEXT (default the single node) with DEPLOY_WITH=kustomize|helm and wait for it
	@PATH=$(CURDIR)/$(TOOLS):$$PATH bash tools/cluster/deploy.sh --with $(DEPLOY_WITH) --context $(CONTEXT) $(DEPLOY_ARGS)

undeploy: k8s-bin helm-bin ## Remove what deploy installed (Runs and Products first, CRDs last)
	@PATH=$(CURDIR)/$(TOOLS):$$PATH bash tools/cluster/deploy.sh --uninstall --with $(DEPLOY_WITH) --context $(CONTEXT) $(DEPLOY_ARGS)

e2e: venv tools k8s-bin helm-bin ## Full-system tests with real pods: the single node here (root), else kind (Docker), else skipped with the reason
	@PATH=$(CURDIR)/$(TOOLS):$$PATH bash tools/cluster/e2e.sh $(PYTEST_ARGS)

bench-cluster: venv k8s-bin ## The operator's share of a Run's start and 20 Runs at once, on CONTEXT (make cluster-up images deploy first)
	$(BIN)/python bench/cluster.py --context $(CONTEXT)

kind-down: kind ## Delete the kind cluster
	$(KIND) delete cluster --name $(KIND_CLUSTER)

DEMO_HOME ?= $(or $(FACTORYOS_HOME),$(HOME)/.factoryos)

graphviz: ## Install Debian's graphviz (the dashboard draws pipelines with dot) when missing
	@bash tools/os/packages.sh graphviz:/usr/bin/dot

sandbox: ## Install Debian's bubblewrap (each local candidate's Kilroy runs in a bwrap sandbox) when missing
	@bash tools/os/packages.sh bubblewrap:/usr/bin/bwrap

browser: graphviz ## Install Debian's chromium (the browser tests drive it) when missing
	@bash tools/os/packages.sh chromium:/usr/bin/chromium

stack-tools: ## Check Node.js (>= 20.9, with npm) and install PostgreSQL's server when missing (the product stacks' tests)
	@command -v node >/dev/null && command -v npm >/dev/null || \
	  { echo "the product stacks (factoryos/stacks/templates/) need Node.js >= 20.9 and npm: install them first" >&2; exit 1; }
	@node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 9) ? 0 : 1)' || \
	  { echo "Node.js $$(node --version) is too old for the product stacks: they need >= 20.9" >&2; exit 1; }
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  bash tools/os/packages.sh postgresql:/usr/share/postgresql-common/pg_wrapper

demo: venv tools graphviz ## Start the embedded factory, run the smoke product, then the quality loop (screen, halve, gate, merge)
	@echo "== sf pipeline validate (the example pipelines and the smoke product's)"
	@PATH=$(CURDIR)/$(TOOLS):$$PATH $(BIN)/sf pipeline validate examples/pipelines/*.dot examples/products/smoke/pipeline.dot
	@echo
	@PATH=$(CURDIR)/$(BIN):$(CURDIR)/$(TOOLS):$$PATH FACTORYOS_HOME=$(DEMO_HOME) bash examples/demo.sh

test: venv tools lint typecheck importlint check-generated unit integration selftest e2e ## Run the whole test suite (e2e on the single node when root, else skipped with the reason)
	@echo "make test: all checks passed"

test-fast: venv tools lint typecheck importlint check-generated unit integration-fast ## Everyday tier (under 3 minutes warm): make test without the slow tests and sf selftest
	@echo "make test-fast: all checks passed (the tests marked slow and sf selftest run in make test)"

lint: venv ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv ## mypy --strict on the package
	$(BIN)/mypy

importlint: venv ## import-linter layer contracts
	$(BIN)/lint-imports

unit: venv graphviz ## Fast, pure tests (the pipeline drawings need Graphviz)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

selftest: venv tools ## sf selftest: stop, resume, event stream and smoke product checks on a scratch factory
	PATH=$(CURDIR)/$(TOOLS):$$PATH $(BIN)/sf selftest

integration: venv tools browser stack-tools k8s-bin helm-bin ## Tests against real processes (Kilroy, kube-apiserver + etcd, ...), two files at a time
	PATH=$(CURDIR)/$(TOOLS):$$PATH $(BIN)/pytest tests/integration -n 2 --dist loadfile $(PYTEST_ARGS)

integration-fast: venv tools browser stack-tools k8s-bin helm-bin ## The integration tests not marked slow (pytest -m "not slow")
	PATH=$(CURDIR)/$(TOOLS):$$PATH $(BIN)/pytest tests/integration -m "not slow" $(PYTEST_ARGS)

generate: crds schemas ## Regenerate everything derived from the models

crds: venv ## Generate crds/*.yaml from the models
	$(BIN)/python -m factoryos.codegen crds

schemas: venv ## Generate factoryos/schemas/*.json from the models
	$(BIN)/python -m factoryos.codegen schemas

check-generated: venv ## Fail when crds/ or schemas/ are stale
	$(BIN)/python -m factoryos.codegen --check all

api-contract: venv tools ## The API's contract at length: schemathesis, every check and phase, 50 cases per operation, against a populated sf up (make test runs a short one)
	FACTORYOS_API_CONTRACT_EXAMPLES=50 FACTORYOS_API_CONTRACT_PHASES=examples,coverage,fuzzing,stateful \
	  PATH=$(CURDIR)/$(TOOLS):$$PATH $(BIN)/pytest -s tests/integration/contract/test_api_contract.py $(PYTEST_ARGS)

CHAOS_SEED ?= 21

chaos: venv tools ## The full chaos suite (tests/integration/chaos; seeded by CHAOS_SEED, several minutes): prints its table, kept in build/chaos/
	PATH=$(CURDIR)/$(TOOLS):$$PATH FACTORYOS_CHAOS=full FACTORYOS_CHAOS_SEED=$(CHAOS_SEED) \
	  $(BIN)/pytest tests/integration/chaos -s -q -o timeout=1800 $(PYTEST_ARGS)

bench: venv tools ## Run the benchmarks in bench/ (several minutes)
	$(BIN)/python bench/cli_startup.py
	PATH=$(CURDIR)/$(TOOLS):$$PATH $(BIN)/python bench/pipeline_overhead.py
	PATH=$(CURDIR)/$(TOOLS):$$PATH $(BIN)/python bench/controlplane.py
	PATH=$(CURDIR)/$(TOOLS):$$PATH $(BIN)/python bench/dashboard_stream.py
	$(BIN)/python bench/gate_simulation.py
	$(BIN)/python bench/voice.py

clean: ## Remove build outputs in the clone
	rm -rf build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache

distclean: clean ## Also remove .venv and .tools
	rm -rf $(VENV) .tools
