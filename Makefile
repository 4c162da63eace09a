# Two entry points for a fresh machine: `make demo` and `make test`. Both create .venv.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install install-dev clean bench test-openai2-frameworks test-llama-index \
	test-crewai

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

# LlamaIndex and CrewAI pin openai<3, which the main venv does not: their tests share a venv of
# their own, where a missing framework fails instead of skipping. CrewAI's telemetry and tracing
# are off and its data directory is a temporary one. .ci/run calls this after `make test`.
FW_VENV ?= .venv-openai2
test-openai2-frameworks:
	test -x $(FW_VENV)/bin/python || $(PY) -m venv $(FW_VENV)
	$(FW_VENV)/bin/pip install -q -e . pytest pytest-timeout "openai<3" \
		"llama-index-core>=0.12" llama-index-llms-openai "crewai>=1.0"
	data=$$(mktemp -d); \
	AGENTEL_REQUIRE_LLAMA_INDEX=1 AGENTEL_REQUIRE_CREWAI=1 XDG_DATA_HOME=$$data \
	CREWAI_DISABLE_TELEMETRY=true CREWAI_TRACING_ENABLED=false \
	$(FW_VENV)/bin/python -m pytest -q \
		tests/integrations/test_llama_index.py tests/integrations/test_crewai.py; rc=$$?; \
	rm -rf $$data; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

test-llama-index test-crewai: test-openai2-frameworks

bench: install-dev
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) $(FW_VENV) build dist .pytest_cache .ruff_cache agentel-demo.db*
