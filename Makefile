# finsim: `make demo` runs the flagship example, `make test` runs the whole suite.
# Both create .venv with the Python given by PYTHON (3.11 or newer) on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test fuzz lint typecheck docs check clean

$(VENV)/.python-ok:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "finsim needs Python 3.11 or newer; set PYTHON=python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@touch $@

$(VENV)/.installed: $(VENV)/.python-ok pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

# The demo draws its report's charts, so it installs the 'plot' extra (matplotlib).
$(VENV)/.installed-plot: $(VENV)/.python-ok pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[plot]"
	@touch $@ $(VENV)/.installed

$(VENV)/.installed-dev: $(VENV)/.python-ok pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@ $(VENV)/.installed $(VENV)/.installed-plot

demo: $(VENV)/.installed-plot
	$(BIN)/finsim run examples/two_systems.yaml --replications 1000 --seed 7 --report demo/report.html
	@echo "Open demo/report.html in a browser for the charts. To use the finsim command yourself:"
	@echo "  . $(BIN)/activate"

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

# The long run of the reliability tests (fuzzed files and paths, sizes after aliases, tampered
# results folders, orphaned workers, invariants, edge cases): many more hypothesis examples
# than `make test` (docs/reliability.md); several minutes.
fuzz: $(VENV)/.installed-dev
	$(BIN)/python -m pytest tests/test_fuzz.py tests/test_invariants.py tests/test_edge_cases.py \
	  tests/test_security.py tests/test_faults.py::test_workers_exit_when_the_run_is_killed \
	  -p no:cacheprovider --hypothesis-profile=fuzz --hypothesis-show-statistics -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

docs: $(VENV)/.installed-dev
	$(BIN)/mkdocs build --strict --site-dir site

check: test lint typecheck docs

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .hypothesis .mypy_cache .ruff_cache site
