# Every target creates .venv and installs bellbox into it when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,plot,ibm]'
	touch $@

# Benchmark-only baselines (never runtime dependencies).
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet cryptomite
	touch $@

demo: $(STAMP)
	$(BIN)/bellbox qkd

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
