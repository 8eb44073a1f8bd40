# The README's two commands are `make reproduce` and `make test`; everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
CORES  ?= 2
PROFILE ?= quick

.PHONY: reproduce test lint typecheck pytest system venv clean-venv bench

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# System tools (QEMU, debootstrap, libibverbs-dev, redis-server, chromium...): installed when we are root
# on a Debian-like machine, otherwise reported as missing (the tests that need them skip with a reason).
system:
	@bash scripts/setup-system.sh

## The main job: the quick pipeline on the embedded default backend (sim), through the book.
reproduce: venv system
	$(BIN)/snakemake --snakefile workflow/Snakefile --cores $(CORES) --profile profiles/$(PROFILE)

## The test command (CI runs exactly this).
test: venv system lint typecheck pytest

lint:
	$(BIN)/ruff check shift_core tests workflow/scripts

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/python -m pytest -q

bench: venv
	$(BIN)/python -m pytest -q -m benchmark -p no:randomly

clean-venv:
	rm -rf $(VENV)
