# Every target creates the virtual environment first when it is missing or stale.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint fmt bench smoke mutate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tlsprobe demo

lint: $(STAMP)
	$(BIN)/ruff check src tests tools
	$(BIN)/ruff format --check src tests tools
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format src tests tools
	$(BIN)/ruff check --fix src tests tools

test: lint
	$(BIN)/pytest

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

bench: $(STAMP) .venv-sslyze/.stamp
	$(BIN)/python bench/run.py

# Mutation testing of the pure modules ([tool.mutmut] in pyproject.toml); fails when the tests
# kill under 90 % of the mutants that change behaviour (tools/mutation_score.py says which live).
mutate: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[mutate]'
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2 > mutants.log 2>&1 || (tail -20 mutants.log; exit 1)
	$(BIN)/python tools/mutation_score.py --goal 90

clean:
	rm -rf $(VENV) .venv-sslyze .venv-smoke .pytest_cache .mypy_cache .ruff_cache mutants mutants.log
