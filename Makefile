# Two commands do all the set-up: `make demo` and `make test`. Both create .venv when missing,
# install torch (the CPU wheel, pinned in constraints.txt) before anything that depends on it,
# then the project with its test extras.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check

# No model or dataset hub at run time: everything rewardlab loads ships in a package.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt torch==2.13.0
	$(PIP) install --quiet -c constraints.txt -e ".[test]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rewardlab demo

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/encode_vs_sentence_transformers.py
	$(BIN)/python benchmarks/hh_accuracy.py
	$(BIN)/python benchmarks/demo_time.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache
