# Set-up and everyday commands. Each target creates .venv on first use.
# torch is pinned to 2.13.0 for the CPU path (installs from local disk here; other versions pull CUDA wheels).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0

.PHONY: demo test lint bench clean gpaw

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[test,dev]' $(TORCH)
	touch $@

# GPAW (GPL-3; optional extra rhograph[gpaw]) for periodic DFT labels: a C++ compiler, libxc and BLAS from apt, then
# GPAW compiled against them with its PAW setups (gpaw-data) from PyPI. About 1.5 min the first time on 2 cores;
# pip caches the built wheel. `make test NO_GPAW=1` skips it (the GPAW tests are then skipped).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
GPAW_SYSTEM := g++ libxc-dev libopenblas-dev
$(VENV)/.gpaw: $(BIN)/.installed
	dpkg -s $(GPAW_SYSTEM) >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(GPAW_SYSTEM); }
	CC=g++ $(BIN)/pip install -q -e '.[gpaw]' $(TORCH)
	touch $@

gpaw: $(VENV)/.gpaw

# Main job: predict the density of a bundled molecule with the bundled model.
demo: $(BIN)/.installed
	$(BIN)/rhograph demo -o demo-out

# Tests (fast suite; `make test PYTEST_ARGS="-m slow"` for the long ones), then lint.
test: $(BIN)/.installed $(if $(NO_GPAW),,$(VENV)/.gpaw)
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
