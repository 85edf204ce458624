# Opora: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PYTEST := $(UV) run --frozen pytest

.PHONY: help uv sync setup tools run stop demo compose test test-unit test-integration test-e2e bench chaos fuzz lint format contracts check-contracts deploy-files clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

uv: ## install uv (from PyPI) when it is missing
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --user --quiet "uv==$(UV_VERSION)"

sync: uv ## create .venv from the committed lockfile
	@$(UV) sync --frozen --quiet

setup: sync ## check prerequisites, fetch the Kafka and Zipkin jars, build FerretDB (all cached)
	@$(UV) run --frozen opora-stack setup

tools: ## build helm and kubeconform for the deployment tests (Go module proxy; cached in .local/bin)
	@bash deploy/tools/build.sh

run: setup ## set up and start the whole system on this machine (Ctrl-C stops it)
	@$(UV) run --frozen opora-stack up

stop: ## stop a stack started by `make run` in another terminal
	@$(UV) run --frozen opora-stack down

demo: sync ## beside `make run`: customers and agents play, with a live tally of what happens
	@$(UV) run --frozen opora-stack demo

compose: ## with a Docker engine: everything in containers (docker-compose.yml, settings in .env)
	@docker info >/dev/null 2>&1 || { echo "no Docker engine answers here: \`make run\` runs Opora without one"; exit 1; }
	@test -f .env || { cp .env.example .env; \
	  for key in OPORA_API_KEY OPORA_FEEDBACK_TOKEN_SECRET OPORA_UNSUBSCRIBE_SECRET; do \
	    sed -i "s/^$$key=$$/$$key=$$(python3 -c 'import secrets; print(secrets.token_hex(24))')/" .env; \
	  done; echo "wrote .env with new random secrets"; }
	docker compose up --build

test: setup tools ## set up and run every test: unit, integration and end-to-end
	@$(PYTEST)

test-unit: sync tools ## unit tests only (nothing needs to run)
	@$(PYTEST) -m "not integration and not e2e"

test-integration: setup ## tests against a real Kafka and a MongoDB-wire server
	@$(PYTEST) -m integration

test-e2e: setup ## the five services as processes against real Kafka and FerretDB
	@$(PYTEST) -m "e2e and not fuzz"

bench: setup ## benchmarks: every service, the whole pipeline against the Kafka ceiling, what tracing costs, routing's decisions; results in .local/bench/
	@$(UV) run --frozen python -m tests.bench $(BENCH_ARGS)
	@$(UV) run --frozen python -m tests.bench.routing_decisions

chaos: setup ## kill services and the broker under load, then check nothing was lost or doubled; results in .local/chaos/
	@$(UV) run --frozen python -m tests.chaos $(CHAOS_ARGS)

fuzz: setup ## the bad-input battery with requests generated from the OpenAPI documents (FUZZ_EXAMPLES per operation, 200 by default)
	@OPORA_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} $(PYTEST) -m e2e tests/e2e/test_bad_input_http.py tests/e2e/test_bad_input_topics.py

lint: sync ## ruff and mypy
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen mypy

format: sync ## apply ruff's fixes and formatting
	@$(UV) run --frozen ruff check --fix .
	@$(UV) run --frozen ruff format .

contracts: sync ## export JSON Schemas, examples and AsyncAPI documents to shared/contracts
	@$(UV) run --frozen opora-contracts export
	@$(UV) run --frozen python deploy/tools/sync_catalogue.py

check-contracts: sync ## fail when shared/contracts drifted from the models
	@$(UV) run --frozen opora-contracts check

deploy-files: sync ## copy the topic catalogue and alerting rules into the Helm chart and compose
	@$(UV) run --frozen python deploy/tools/sync_catalogue.py

clean: ## remove the local stack's data (downloads and builds are kept)
	rm -rf .local/stack .local/test-stack
