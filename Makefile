# Every target creates the virtual environment first when it is missing or stale.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-airflow lint fmt bench bench-load smoke mutate clean debian-tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tlsprobe demo

lint: $(STAMP)
	$(BIN)/ruff check src tests tests_airflow tools
	$(BIN)/ruff format --check src tests tests_airflow tools
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format src tests tests_airflow tools
	$(BIN)/ruff check --fix src tests tests_airflow tools

# Debian's curl, prometheus, promtool and blackbox_exporter, the oracles some tests run beside
# tlsprobe: installed with apt-get when missing (tests never skip for want of them).
debian-tools:
	bash tools/debian-tools.sh

test: lint debian-tools
	$(BIN)/pytest

# Real Apache Airflow as the oracle for tlsprobe's Airflow verdicts: the pinned release and
# providers in a virtual environment of their own (Airflow pins much that tlsprobe does not),
# installed once (the stamp), then every scenario in fixtures/airflow/scenarios run by Airflow's
# own clients and by tlsprobe. Not part of `make test`: pytest's testpaths is tests/ only.
AIRFLOW_PYTHON ?= python3.11
AIRFLOW_VENV   := .venv-airflow
AIRFLOW_PINS   := apache-airflow==3.3.2 apache-airflow-providers-smtp==3.2.0 \
                  apache-airflow-providers-postgres==7.1.1 apache-airflow-providers-http==6.3.0

$(AIRFLOW_VENV)/.installed-stamp:
	rm -rf $(AIRFLOW_VENV)
	$(AIRFLOW_PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet $(AIRFLOW_PINS)
	touch $@

test-airflow: $(STAMP) $(AIRFLOW_VENV)/.installed-stamp
	TLSPROBE_AIRFLOW_VENV=$(AIRFLOW_VENV) $(BIN)/pytest -p no:cacheprovider tests_airflow

# tlsprobe installed with its runtime dependencies only (no dev or lab extras) checks the lab's
# good endpoints: catches a dependency that only the test tools install.
smoke: $(STAMP)
	rm -rf .venv-smoke
	$(PYTHON) -m venv .venv-smoke
	.venv-smoke/bin/python -m pip install --quiet .
	$(BIN)/python .ci/smoke.py .venv-smoke/bin/tlsprobe

# sslyze gets a virtual environment of its own: it pins versions of cryptography that tlsprobe
# does not. If it cannot be installed, the bench still runs and says so.
.venv-sslyze/.stamp:
	$(PYTHON) -m venv .venv-sslyze
	.venv-sslyze/bin/python -m pip install --quiet sslyze || echo "sslyze not installed"
	touch $@

bench: $(STAMP) .venv-sslyze/.stamp bench-load
	$(BIN)/python bench/run.py
	$(BIN)/python bench/metrics_scale.py 5000
	$(BIN)/python bench/revocation.py 100

# `tlsprobe serve` under load (about 80 s): 50 scrapers for 30 s, a burst of 200 connections,
# memory and descriptors; bench/load.json.
bench-load: $(STAMP)
	$(BIN)/python bench/load.py

# Mutation testing of the pure modules ([tool.mutmut] in pyproject.toml); fails when the tests
# kill under 90 % of the mutants that change behaviour (tools/mutation_score.py says which live).
mutate: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[mutate]'
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2 > mutants.log 2>&1 || (tail -20 mutants.log; exit 1)
	$(BIN)/python tools/mutation_score.py --goal 90

clean:
	rm -rf $(VENV) .venv-sslyze .venv-smoke .venv-airflow .pytest_cache .mypy_cache .ruff_cache mutants mutants.log
