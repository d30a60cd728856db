# Everything a fresh clone needs: `make demo` and `make test` create the virtual
# environment and install the package themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEMO_DIR ?= demo-output

.PHONY: install demo test bench clean sample-data

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# The slowest tests are listed at the end, so a suite drifting towards CI's 15 minutes shows where.
test: $(INSTALLED)
	$(BIN)/python -m pytest -q --durations=15

# The same commands a user types: train on the sample hourly load (the table it prints
# compares the LSTM with seasonal naive), forecast the next day, score every hour.
demo: $(INSTALLED)
	$(BIN)/forecaster train sample_data/hourly_load.csv --target load --covariate temperature \
		--model-dir $(DEMO_DIR)/model --seed 42
	$(BIN)/forecaster predict --model-dir $(DEMO_DIR)/model --output $(DEMO_DIR)/forecast.csv
	$(BIN)/forecaster detect-anomalies --model-dir $(DEMO_DIR)/model --output $(DEMO_DIR)/anomalies.csv
	@echo
	@echo "Model:     $(DEMO_DIR)/model (see: $(BIN)/forecaster info --model-dir $(DEMO_DIR)/model)"
	@echo "Forecast:  $(DEMO_DIR)/forecast.csv"
	@echo "Anomalies: $(DEMO_DIR)/anomalies.csv (injected ones are listed in sample_data/hourly_load_labels.csv)"

# Public benchmarks against the published tables (long: not part of `make test`). They read
# ../shared/bench and write their sections of BENCHMARKS.md.
bench: $(INSTALLED)
	$(BIN)/python benchmarks/m4_metric_check.py
	$(BIN)/python benchmarks/m4_hourly.py
	$(BIN)/python benchmarks/etth1.py
	$(BIN)/python benchmarks/etth1_seeds.py
	$(BIN)/python benchmarks/nab.py
	$(BIN)/python benchmarks/skab.py
	$(BIN)/python benchmarks/range_score.py
	$(BIN)/python benchmarks/batched_scoring.py
	$(BIN)/python benchmarks/coverage.py
	$(BIN)/python benchmarks/window_level.py
	$(BIN)/python benchmarks/perf.py
	$(BIN)/python benchmarks/allocator.py
	$(BIN)/python benchmarks/xla.py
	$(BIN)/python benchmarks/fused_lstm.py
	$(BIN)/python benchmarks/fit_end.py
	$(BIN)/python benchmarks/early_flags.py

sample-data: $(INSTALLED)
	$(BIN)/python sample_data/generate.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) forecaster-model .pytest_cache
