# Two entry points for a fresh machine: `make demo` and `make test`. Both create .venv.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install install-dev clean bench test-llama-index

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e ".[openai,ui]"

install-dev: $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"

demo: install
	$(BIN)/agentel demo

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# pytest exits 5 when it collects nothing: that is a failure here, never a quiet green.
test: lint
	$(BIN)/python -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

# LlamaIndex pins openai<3, which the main venv does not: its tests get a venv of their own,
# where a missing LlamaIndex fails instead of skipping. .ci/run calls this after `make test`.
LI_VENV ?= .venv-llamaindex
test-llama-index:
	test -x $(LI_VENV)/bin/python || $(PY) -m venv $(LI_VENV)
	$(LI_VENV)/bin/pip install -q -e . pytest pytest-timeout "openai<3" \
		"llama-index-core>=0.12" llama-index-llms-openai
	AGENTEL_REQUIRE_LLAMA_INDEX=1 $(LI_VENV)/bin/python -m pytest -q \
		tests/integrations/test_llama_index.py; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

bench: install-dev
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) $(LI_VENV) build dist .pytest_cache .ruff_cache agentel-demo.db*
