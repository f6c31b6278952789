# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
REQ_HASH := $(shell cat requirements.txt pyproject.toml | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(REQ_HASH)

.PHONY: install run test test-fast lint bench clean

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || { echo "== creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "== installing the pinned requirements.txt into $(VENV) (a few minutes the first time; one line per package)"
	$(PY) -m pip install --progress-bar off --disable-pip-version-check -r requirements.txt \
		| grep --line-buffered -E '^(Collecting|Installing|Successfully|ERROR)'; test $${PIPESTATUS[0]} -eq 0
	@echo "== installing gerec itself (editable, with its gerec command)"
	@# the project itself, editable, with its `gerec` command (dependencies come from the lock above)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@rm -f "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/gerec-project.pth"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

PORT ?= 8501

run: install
	@echo "== starting the dashboard: open http://localhost:$(PORT) (models load in the background; Ctrl+C stops)"
	$(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy gerec gerec_app benchmarks tools tests

test: install lint
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

# benchmarks of the training tools need the tools venv (torch): make bench TOOLS_PY=/path/to/bin/python
TOOLS_BENCHMARKS := benchmarks/bench_train_layout.py
TOOLS_PY ?=

bench: install
	for b in benchmarks/bench_*.py; do \
		py=$(PY); \
		if [[ " $(TOOLS_BENCHMARKS) " == *" $$b "* ]]; then \
			if [ -z "$(TOOLS_PY)" ]; then echo "== $$b: not run (needs the tools venv: TOOLS_PY=...)"; continue; fi; \
			py=$(TOOLS_PY); \
		fi; \
		echo "== $$b"; $$py $$b || exit 1; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
