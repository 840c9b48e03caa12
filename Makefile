# koord — evaluation pipeline for Lag (2019:1297) om koordineringsinsatser.
# `make` alone lists the targets with their `## comment`.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

DEMO_DIR      ?= data/demo
DEMO_PERSONS  ?= 20000
DEMO_SEED     ?= 2026
DELIVERY      := $(DEMO_DIR)/delivery
TRUTH         := $(DEMO_DIR)/truth.json
WAREHOUSE     ?= $(DEMO_DIR)/warehouse.duckdb
OUT           ?= $(DEMO_DIR)/out
STUDY         ?= study.toml

.DEFAULT_GOAL := help
.PHONY: help setup demo test bench synth ingest clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install the project with its dependencies

demo: $(STAMP) ## synthetic delivery -> warehouse -> (later stages); prints what it loaded
	rm -rf $(DELIVERY) $(TRUTH)
	$(BIN)/koord synth --out $(DELIVERY) --persons $(DEMO_PERSONS) --seed $(DEMO_SEED) --faults --truth $(TRUTH)
	$(BIN)/koord ingest --delivery $(DELIVERY) --warehouse $(WAREHOUSE) --replace

synth: $(STAMP) ## write a synthetic delivery (DEMO_PERSONS, DEMO_SEED)
	$(BIN)/koord synth --out $(DELIVERY) --persons $(DEMO_PERSONS) --seed $(DEMO_SEED) --truth $(TRUTH)

ingest: $(STAMP) ## load $(DELIVERY) into $(WAREHOUSE)
	$(BIN)/koord ingest --delivery $(DELIVERY) --warehouse $(WAREHOUSE)

test: $(STAMP) ## run the test suite (reference values, contracts, planted truth)
	$(BIN)/python -m pytest -q

bench: $(STAMP) ## time and peak memory of each stage at 100 000 and 1 000 000 persons
	$(BIN)/python -m pipeline.bench

clean: ## remove generated data (not .venv)
	rm -rf data/demo data/bench
