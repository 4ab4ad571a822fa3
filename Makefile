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

.PHONY: verify test test-slow test-extras lint format bench bench-trl bench-docs clean

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

# The optional-extras job: SB3 installed (torch held at the installed version), then the tests
# that need it (loading saved SB3 policies checked against SB3's own predictions).
test-extras: $(STAMP)
	$(BIN)/python -c "import torch; print('torch==' + torch.__version__)" > $(VENV)/torch-constraint.txt
	$(BIN)/pip install --quiet -c $(VENV)/torch-constraint.txt -e ".[sb3]"
	OMP_NUM_THREADS=1 MPLBACKEND=Agg $(BIN)/pytest -q tests/trainers/test_loaders.py -k sb3_round_trip $(ARGS)

# `stability bench sequence` against TRL: installs the `trl` extra with torch held at the
# installed version by a constraint file, so pip never pulls another (multi-GB) torch.
bench-trl: $(STAMP)
	$(BIN)/python -c "import torch; print('torch==' + torch.__version__)" > $(VENV)/torch-constraint.txt
	$(BIN)/pip install --quiet -c $(VENV)/torch-constraint.txt -e ".[trl]"
	OMP_NUM_THREADS=1 $(BIN)/stability bench sequence $(ARGS)

# The README's benchmark figures: one generated page per area under docs/benchmarks/.
BENCH_AREAS ?= theory lipschitz counterfactual causal decision-boundary sweeps trainers continuous sequence leaderboard
bench-docs: $(STAMP)
	for a in $(BENCH_AREAS); do \
	  OMP_NUM_THREADS=1 $(BIN)/stability bench $$a $(ARGS) --markdown docs/benchmarks/$$a.md || exit 1; \
	done

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) stability-report .pytest_cache .ruff_cache .hypothesis
