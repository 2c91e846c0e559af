# arise-gym: `make run` and `make test` bootstrap everything they need on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)
RUN_DIR ?= runs/sanity/$(shell date +%Y%m%d-%H%M%S)

.PHONY: install run test lint format bench clean-venv system-deps

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

$(STAMP): pyproject.toml requirements.lock | system-deps
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"arise-gym needs Python 3.11, found {sys.version.split()[0]}"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

# The main job on the embedded default (offline): oracle and every null baseline, then the LLM
# baselines (no_evolution, fixed_tools) with both simulated profiles, on both worlds and
# protocols; then arise and code_agent with the weak profile; then one summary table.
run: install
	$(PY) -m experiments.run -m world=acmecorp,datacorp protocol=rigorous,arise_v1 \
	  condition=oracle,null_empty,null_echo,null_names,null_numbers,null_random,null_majority,null_blob \
	  n_worlds=5 progress=false hydra.sweep.dir=$(RUN_DIR) hydra/job_logging=none hydra/hydra_logging=none
	$(PY) -m experiments.run -m world=acmecorp,datacorp protocol=rigorous,arise_v1 \
	  condition=no_evolution,fixed_tools llm=sim-4o-mini-like,sim-sonnet-like \
	  n_worlds=2 progress=false hydra.sweep.dir=$(RUN_DIR) hydra/job_logging=none hydra/hydra_logging=none
	$(PY) -m experiments.run -m world=acmecorp,datacorp protocol=rigorous,arise_v1 condition=arise,code_agent \
	  llm=sim-4o-mini-like progress=false hydra.sweep.dir=$(RUN_DIR) hydra/job_logging=none hydra/hydra_logging=none
	$(PY) -m experiments.summary $(RUN_DIR)
	@echo "records and results: $(RUN_DIR)"

test: install
	$(PY) -m pytest -q

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
