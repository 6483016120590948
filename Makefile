# make run   installs into .venv (first time), builds the UI if needed, runs the demo
# make serve installs into .venv (first time) and starts Oracle Monitor on 127.0.0.1
# make test  installs into .venv (first time), then ruff, mypy and the whole test suite
# make bench installs into .venv (first time) and runs the benchmarks under bench/
# make api-types regenerates the dashboard's API types from the API (frontend/src/api/schema.ts)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run serve test lint bench docs clean ui ui-test api-types

install: $(VENV)/.installed $(VENV)/.speedups

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[server,dev]'
	touch $@

# The optional compiled OTLP decoder (native/, Cython and a C compiler), rebuilt when its
# sources change. Without a compiler the server decodes through the protobuf runtime alone
# (decoding then takes about three times the instructions), so a failed build only warns.
SPEEDUPS_SOURCES := $(shell find native -type f -not -path '*/build/*' -not -name '*.so' \
	-not -name '*.c' -not -path '*.egg-info*' 2>/dev/null)
$(VENV)/.speedups: $(VENV)/.installed $(SPEEDUPS_SOURCES)
	$(BIN)/python -m pip install --quiet ./native || \
		echo "warning: the compiled OTLP decoder (native/) did not build; decoding without it" >&2
	touch $@

run: install ui
	$(BIN)/oracle-monitor demo

serve: install ui
	$(BIN)/oracle-monitor serve

# The dashboard (frontend/, Node 20.19+) built into the package; rebuilt only when its sources
# are newer than the build.
UI_BUILD := src/oracle_monitor/api/static/index.html
UI_SOURCES := $(shell find frontend/src -type f 2>/dev/null) frontend/index.html \
	frontend/package.json frontend/package-lock.json frontend/vite.config.ts
ui: api-types $(UI_BUILD)

frontend/node_modules/.installed: frontend/package.json frontend/codegen/package.json \
		frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	touch $@

# The dashboard's API types, generated from the API's OpenAPI document (no server: the
# document comes from the application object): frontend/openapi.json (rewritten only when it
# changes), then frontend/src/api/schema.ts by openapi-typescript (the frontend/codegen
# workspace) when the document is newer. Both are checked in; under CI a difference fails
# instead of being written over unnoticed (tests/unit/api/test_api_types.py checks the same).
api-types: install frontend/node_modules/.installed
	$(BIN)/python -m oracle_monitor.api.openapi_dump frontend/openapi.json
	test frontend/src/api/schema.ts -nt frontend/openapi.json || \
		(cd frontend && npm run --silent api-types)
ifdef CI
	@git diff --quiet -- frontend/openapi.json frontend/src/api/schema.ts || { \
		git diff --stat -- frontend/openapi.json frontend/src/api/schema.ts; \
		echo "the API types are stale: run \`make api-types\` and commit the result" >&2; \
		exit 1; }
endif

$(UI_BUILD): frontend/node_modules/.installed $(UI_SOURCES)
	cd frontend && npx vite build
	touch $@

ui-test: frontend/node_modules/.installed
	cd frontend && npx tsc --noEmit -p . && npx vitest run

lint: install
	$(BIN)/ruff check src tests bench docs
	$(BIN)/ruff format --check src tests bench docs
	$(BIN)/mypy

test: lint ui ui-test
	$(BIN)/pytest

bench: install ui
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/query.py
	$(BIN)/python bench/proxy.py
	$(BIN)/python bench/llm_instrumentation.py
	$(BIN)/python bench/collectors.py
	$(BIN)/python bench/aggregator.py
	$(BIN)/python bench/store_write.py
	$(BIN)/python bench/live.py
	$(BIN)/python bench/causal_chain.py
	$(BIN)/python bench/forward.py
	$(BIN)/python bench/jaeger.py
	$(BIN)/python bench/ui.py
	if command -v valgrind >/dev/null; then $(BIN)/python bench/instructions.py; fi

docs: install
	$(BIN)/python docs/generate.py

clean:
	rm -rf $(VENV) oracle-data .mypy_cache .pytest_cache .ruff_cache src/oracle_monitor/api/static \
		frontend/node_modules frontend/codegen/node_modules build/e2e native/build \
		native/src/*.egg-info native/src/oracle_monitor_speedups/*.c
