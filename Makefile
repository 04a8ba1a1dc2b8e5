# Set-up and everyday commands. Each target creates .venv on first use.
# torch is pinned to 2.13.0 for the CPU path (installs from local disk here; other versions pull CUDA wheels).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0

.PHONY: demo test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[test,dev]' $(TORCH)
	touch $@

# Main job: predict the density of a bundled molecule with the bundled model.
demo: $(BIN)/.installed
	$(BIN)/rhograph demo -o demo-out

# Tests (fast suite; `make test PYTEST_ARGS="-m slow"` for the long ones), then lint.
test: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: $(BIN)/.installed
	for f in benchmarks/*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) demo-out .pytest_cache .ruff_cache .mypy_cache
