# Everything a fresh clone needs: `make demo` and `make test` create the virtual
# environment and install the package themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEMO_DIR ?= demo-output

.PHONY: install demo test clean sample-data

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

test: $(INSTALLED)
	$(BIN)/python -m pytest -q

demo: $(INSTALLED)
	$(BIN)/python -m forecaster.demo --output-dir $(DEMO_DIR)

sample-data: $(INSTALLED)
	$(BIN)/python sample_data/generate.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) forecaster-model .pytest_cache
