# koord — evaluation pipeline for Lag (2019:1297) om koordineringsinsatser.
# `make` alone lists the targets with their `## comment`.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The tested environment, every package pinned with its hashes (README: "The environment").
LOCK   := requirements.lock
# The tool that writes the lock, pinned too so that `make lock` is repeatable.
PIP_TOOLS := pip-tools==7.6.2
LOCK_VENV   := .venv-lock
LATEST_VENV := .venv-latest

DEMO_DIR      ?= data/demo
DEMO_PERSONS  ?= 20000
DEMO_SEED     ?= 2026
DELIVERY      := $(DEMO_DIR)/delivery
TRUTH         := $(DEMO_DIR)/truth.json
WAREHOUSE     ?= $(DEMO_DIR)/warehouse.duckdb
OUT           ?= $(DEMO_DIR)/out
STUDY         ?= study.toml
# The demo runs the default study with fewer bootstrap replicates (study.toml: 200) to stay quick.
DEMO_BOOTSTRAP ?= 40
DEMO_STUDY    := $(DEMO_DIR)/study.toml
# The simulation study (`make validate`, issue 14): R replicates of the whole pipeline at one size.
# The issue's second configuration: make validate VALIDATE_PERSONS=200000 VALIDATE_REPLICATES=10
VALIDATE_DIR        ?= data/validate
VALIDATE_PERSONS    ?= 20000
VALIDATE_REPLICATES ?= 50
VALIDATE_JOBS       ?= 1
VALIDATE_SEED       ?= 0

.DEFAULT_GOAL := help
.PHONY: help setup lock test-latest demo test bench validate synth ingest build analyse report dictionary clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# A new .venv each time the lock changes, so nothing outside the lock survives an upgrade.
# --no-deps: the lock already names every dependency; --no-build-isolation: koord is built with
# the locked setuptools, not whatever is newest on the index that day.
$(STAMP): $(LOCK) pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == (3, 11) else f"koord is locked for Python 3.11 and $(PYTHON) is {v[0]}.{v[1]}: run make with PYTHON=python3.11")'
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m pipeline.environment $(LOCK)
	@touch $(STAMP)

setup: $(STAMP) ## create .venv with exactly the versions in requirements.lock

lock: ## refresh requirements.lock to the newest versions pyproject.toml allows (then: make test)
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(PIP_TOOLS)
	$(LOCK_VENV)/bin/pip-compile --quiet --upgrade --generate-hashes --allow-unsafe --strip-extras \
		--extra dev --all-build-deps --no-emit-index-url --no-emit-find-links \
		--output-file $(LOCK) pyproject.toml
	rm -rf $(LOCK_VENV)
	@echo "$(LOCK) refreshed; git diff $(LOCK) shows what changed. Next: make test, then commit both."

test-latest: ## the tests in a throw-away venv of the newest versions pyproject.toml allows (not the lock)
	rm -rf $(LATEST_VENV)
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade -e '.[dev]'
	@echo "Newest allowed versions:"; $(LATEST_VENV)/bin/python -m pip freeze --exclude-editable | sed 's/^/  /'
	KOORD_UNLOCKED=1 $(LATEST_VENV)/bin/python -m pytest -q -p no:cacheprovider; \
		status=$$?; rm -rf $(LATEST_VENV); exit $$status

demo: $(STAMP) ## synthetic delivery -> warehouse -> cohort -> analyses -> report; prints where the report is
	rm -rf $(DELIVERY) $(TRUTH)
	@mkdir -p $(DEMO_DIR)
	@{ cat $(STUDY); echo "bootstrap_replicates = $(DEMO_BOOTSTRAP)  # demo only"; } > $(DEMO_STUDY)
	$(BIN)/koord synth --out $(DELIVERY) --persons $(DEMO_PERSONS) --seed $(DEMO_SEED) --faults --truth $(TRUTH)
	$(BIN)/koord ingest --delivery $(DELIVERY) --warehouse $(WAREHOUSE) --replace
	$(BIN)/koord build --warehouse $(WAREHOUSE) --study $(DEMO_STUDY)
	$(BIN)/koord analyse --warehouse $(WAREHOUSE) --out $(OUT) --study $(DEMO_STUDY)
	$(BIN)/koord report --warehouse $(WAREHOUSE) --out $(OUT) --study $(DEMO_STUDY)
	@echo "Rapport: $(OUT)/report/rapport.html (PDF: $(OUT)/report/rapport.pdf, utdatakontroll: $(OUT)/report/utdatakontroll.html)"
	@echo "Internt arbetsmaterial (ej röjandekontrollerat, får inte lämna den säkra miljön): $(OUT)/internt/"

synth: $(STAMP) ## write a synthetic delivery (DEMO_PERSONS, DEMO_SEED)
	$(BIN)/koord synth --out $(DELIVERY) --persons $(DEMO_PERSONS) --seed $(DEMO_SEED) --truth $(TRUTH)

ingest: $(STAMP) ## load $(DELIVERY) into $(WAREHOUSE)
	$(BIN)/koord ingest --delivery $(DELIVERY) --warehouse $(WAREHOUSE)

build: $(STAMP) ## build the analysis tables (spells, person_time, attrition) in $(WAREHOUSE)
	$(BIN)/koord build --warehouse $(WAREHOUSE) --study $(STUDY)

analyse: $(STAMP) ## run the analyses named in $(STUDY); results to the warehouse and $(OUT)/internt (must not leave)
	$(BIN)/koord analyse --warehouse $(WAREHOUSE) --out $(OUT) --study $(STUDY)

report: $(STAMP) ## disclosure-checked report (HTML + PDF, Swedish) and output-check log into $(OUT)/report
	$(BIN)/koord report --warehouse $(WAREHOUSE) --out $(OUT) --study $(STUDY)

dictionary: $(STAMP) ## regenerate docs/data_dictionary.md from data_schemas/
	@mkdir -p docs
	$(BIN)/python -m data_schemas.dictionary > docs/data_dictionary.md

test: $(STAMP) ## run the test suite (reference values, contracts, planted truth)
	$(BIN)/python -m pytest -q

bench: $(STAMP) ## time and peak memory of each stage at 100 000 and 1 000 000 persons; planted-truth check at both
	$(BIN)/python -m pipeline.bench

validate: $(STAMP) ## simulation study: bias, SE, coverage per check over VALIDATE_REPLICATES seeds (also R = 10 at 200 000)
	$(BIN)/koord validate --out $(VALIDATE_DIR)/p$(VALIDATE_PERSONS) --persons $(VALIDATE_PERSONS) \
		--replicates $(VALIDATE_REPLICATES) --seed $(VALIDATE_SEED) --jobs $(VALIDATE_JOBS) --study $(STUDY)

clean: ## remove generated data (not .venv)
	rm -rf data/demo data/bench $(LOCK_VENV) $(LATEST_VENV)
