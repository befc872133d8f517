# lastmile: one Makefile for set-up, the local stack, the demo and the checks.
# Everything is installed from this repository's own files on a fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
RUN_DIR ?= $(CURDIR)/run
export RUN_DIR

.PHONY: help install test chaos soak unit integration lint fmt demo up down status clean bench contract

help:
	@echo "make demo         install what is missing, start Kafka+Redis+Prometheus, stream a simulated day of Yiyuan"
	@echo "make test         install, start the local stack, run every test (unit + integration) but the chaos ones, stop the stack"
	@echo "make chaos        the full fault matrix, ~1-2 min a scenario on stacks of their own (marker chaos; make test runs short versions)"
	@echo "make soak         one worker for SOAK_MINUTES (60) at a steady load on a stack of its own (not in CI)"
	@echo "make unit         unit tests only (no services)"
	@echo "make lint         ruff + mypy (strict on the core)"
	@echo "make up|down|status|clean   the local stack (Kafka KRaft, Redis, Prometheus) under $(RUN_DIR)"
	@echo "make bench        benchmarks (bench/), figures printed as ratios"
	@echo "make contract     regenerate schemas/*.json, schemas/asyncapi.yaml and the OpenAPI document from their definitions"

$(BIN)/lastmile: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,rocksdb]'
	@touch $@

# the AsyncAPI initiative's parser, which the tests run on schemas/asyncapi.yaml (Node, npm)
ASYNCAPI_PARSER := tools/asyncapi/node_modules/@asyncapi/parser/package.json
$(ASYNCAPI_PARSER): tools/asyncapi/package-lock.json
	@command -v npm >/dev/null || { apt-get update -q && apt-get install -y -q --no-install-recommends nodejs npm; }
	npm ci --prefix tools/asyncapi --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

install: $(BIN)/lastmile $(ASYNCAPI_PARSER)

contract: install
	$(BIN)/python -m lastmile.contract.schemas schemas
	$(BIN)/python -m lastmile.worker.asyncapi schemas/asyncapi.yaml
	$(BIN)/python -m lastmile.api.openapi

unit: install
	$(BIN)/pytest -q tests/unit

lint: install
	$(BIN)/ruff check services tests bench
	$(BIN)/ruff format --check services tests bench
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff format services tests bench
	$(BIN)/ruff check --fix services tests bench

-include deploy/local/stack.mk

demo: install
	bash deploy/local/stack.sh up
	$(BIN)/lastmile demo

test: install
	bash deploy/local/with-stack.sh $(BIN)/pytest -q -m "not chaos" tests

chaos: install
	bash deploy/local/with-stack.sh $(BIN)/pytest -q -m chaos tests

bench: install
	$(BIN)/python bench/bench_detect.py
bench-worker: install
	set -e; s="env RUN_DIR=/tmp/lm-bench LASTMILE_KAFKA_PORT=39092 LASTMILE_KAFKA_CONTROLLER_PORT=39093 LASTMILE_REDIS_PORT=36390 LASTMILE_PROMETHEUS_PORT=39091 bash deploy/local/stack.sh"; $$s up; rc=0; LASTMILE_KAFKA_BOOTSTRAP=127.0.0.1:39092 LASTMILE_REDIS_URL=redis://127.0.0.1:36390/0 $(BIN)/python bench/bench_worker.py $(BENCH_ARGS) || rc=$$?; $$s clean; exit $$rc
bench-redis: install
	set -e; s="env RUN_DIR=/tmp/lm-bench LASTMILE_KAFKA_PORT=39092 LASTMILE_KAFKA_CONTROLLER_PORT=39093 LASTMILE_REDIS_PORT=36390 LASTMILE_PROMETHEUS_PORT=39091 bash deploy/local/stack.sh"; $$s up; rc=0; LASTMILE_KAFKA_BOOTSTRAP=127.0.0.1:39092 LASTMILE_REDIS_URL=redis://127.0.0.1:36390/0 $(BIN)/python bench/bench_redis_footprint.py || rc=$$?; $$s clean; exit $$rc

# The soak (bench/soak.py, docs/reliability.md): a stack of its own, wiped afterwards.
SOAK_MINUTES ?= 60
SOAK_ARGS ?=
SOAK_PORT_BASE ?= 39192
soak: install
	set -e; b=$(SOAK_PORT_BASE); s="env RUN_DIR=/tmp/lm-soak LASTMILE_KAFKA_PORT=$$b LASTMILE_KAFKA_CONTROLLER_PORT=$$((b+1)) LASTMILE_REDIS_PORT=$$((b+2)) LASTMILE_PROMETHEUS_PORT=$$((b+3)) bash deploy/local/stack.sh"; $$s up; rc=0; LASTMILE_KAFKA_BOOTSTRAP=127.0.0.1:$$b LASTMILE_REDIS_URL=redis://127.0.0.1:$$((b+2))/0 $(BIN)/python bench/soak.py --minutes $(SOAK_MINUTES) $(SOAK_ARGS) || rc=$$?; $$s clean; exit $$rc
