# The README's two commands are `make reproduce` and `make test`; everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
CORES  ?= 2
PROFILE ?= quick

.PHONY: reproduce test lint typecheck pytest system venv clean-venv bench book book-fixtures book-screenshots

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
	$(BIN)/snakemake --snakefile workflow/Snakefile --cores $(CORES) --profile workflow/profiles/$(PROFILE)

## The test command (CI runs exactly this).
test: venv system lint typecheck pytest

lint:
	$(BIN)/ruff check shift_core tests workflow/scripts book/_ext

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/python -m pytest -q

bench: venv
	$(BIN)/python -m pytest -q -m benchmark -p no:randomly

## The book alone, from whatever data/ holds (the pipeline's book rule runs the same script, then checks the pages).
## Output: book/_build/html (a static site; .nojekyll included, so it can be published as is).
book: venv
	JUPYTER_BOOK=$(BIN)/jupyter-book bash book/build.sh

## Regenerate the book tests' fixture from the real producers (tests/book/fixtures/data; ~20 s).
book-fixtures: venv
	$(BIN)/python tests/book/fixtures/make_fixture.py

## Screenshots of every page of the built book (headless Chromium, served under /shift/) in book/_build/screenshots.
book-screenshots: venv
	$(BIN)/python tests/book/bookserver.py book/_build/html book/_build/screenshots

clean-venv:
	rm -rf $(VENV)

## C fast path: the cffi module (shift_core/fastpath/_fastpath*.so) and csrc/ (libshift.so, shift_bench,
## shift_probe). Needs gcc and libibverbs-dev (csrc/README.md).
.PHONY: native
native: venv
	$(BIN)/python -m shift_core.fastpath.build
	$(MAKE) -C csrc

## rxe: real soft-RoCE in a QEMU guest (workflow/scripts/rxe). `make rxe` builds the guest image (cached under
## build/rxe/, keyed by Debian package versions) and runs the rxe tests in ONE guest boot; `make rxe-stage`
## writes the stage results to data/rxe/ (what the pipeline's rules/rxe.smk does).
.PHONY: rxe rxe-stage rxe-image
rxe-image: venv
	@bash scripts/setup-system.sh rxe build
	$(BIN)/shift rxe build

rxe: rxe-image
	SHIFT_RXE=1 $(BIN)/python -m pytest -q -m rxe tests/rdma -p no:randomly

rxe-stage: rxe-image
	$(BIN)/shift rxe test --out data/rxe
