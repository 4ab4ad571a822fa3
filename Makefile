# Two entry points for a fresh machine (see README):
#   make verify   -> builds .venv, then runs `stability verify` (the claim report)
#   make test     -> builds .venv, then lint + the default test suite
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
# The CPU wheel of torch. Installed before the project so that pip never
# resolves an unpinned torch (which would pull a multi-GB CUDA build).
TORCH   ?= torch==2.13.0
STAMP   := $(VENV)/.installed
ARGS    ?=
AREA    ?= theory

.PHONY: verify test test-slow lint format bench bench-docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

verify: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/stability verify $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	OMP_NUM_THREADS=1 MPLBACKEND=Agg $(BIN)/pytest -q $(ARGS)

test-slow: $(STAMP)
	OMP_NUM_THREADS=1 MPLBACKEND=Agg $(BIN)/pytest -q -m slow $(ARGS)

bench: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/stability bench $(AREA) $(ARGS)

# The README's benchmark figures: one generated page per area under docs/benchmarks/.
BENCH_AREAS ?= theory lipschitz counterfactual causal decision-boundary sweeps trainers
bench-docs: $(STAMP)
	for a in $(BENCH_AREAS); do \
	  OMP_NUM_THREADS=1 $(BIN)/stability bench $$a $(ARGS) --markdown docs/benchmarks/$$a.md || exit 1; \
	done

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) stability-report .pytest_cache .ruff_cache .hypothesis
