# sparselab — the one documented entry point. `make` prints help.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROFILE ?= full
NB ?= 00
STAMP := $(VENV)/.setup-done
# Extra wheel index for torch, empty by default (this machine's index has CPU torch). Where the
# default index has only CUDA builds of torch, use PyTorch's CPU index:
#   make setup TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
TORCH_INDEX_URL ?=

.DEFAULT_GOAL := help
.PHONY: help setup test test-slow reports report lab bench lint clean

help: ## show this help
	@echo "sparselab — research notebooks on sparsity in retrieval and transformers"
	@echo
	@echo "  make reports              set up if needed, run every notebook (PROFILE=$(PROFILE)), write HTML reports"
	@echo "  make test                 fast unit + notebook-contract tests"
	@echo
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-22s %s\n", $$1, $$2}'
	@echo
	@echo "Variables: PROFILE=smoke|full (default full: reports/; smoke: build/reports/), NB=00|01|...,"
	@echo "           FRESH=1 (recompute everything from nothing into build/fresh/, compare with reports/),"
	@echo "           SPARSELAB_ARTIFACTS=use|update|require|fresh|off (artifacts/README.md)"

setup: $(STAMP) ## create .venv, install pinned deps (CPU torch), the 'sparselab' kernel inside .venv

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX_URL),--extra-index-url $(TORCH_INDEX_URL))
	$(PY) -m pip install --quiet -e '.[dev]'
	# the kernelspec lives in .venv (nothing user-wide): another clone's setup cannot replace it
	$(PY) -m ipykernel install --sys-prefix --name sparselab --display-name "Python (sparselab)" >/dev/null
	touch $@

test: setup ## fast tests (no network, a few minutes at most)
	$(PY) -m pytest -m "not slow" -q

test-slow: setup ## slow tests: real-data golden numbers, every notebook under papermill
	$(PY) -m pytest -m "slow" -q

# Artifacts (artifacts/README.md): the full profile reads the committed artifacts/ (mode use),
# smoke computes from nothing (off). FRESH=1 recomputes everything from nothing — artifacts
# ignored, a cold cache — into build/fresh/ and compares its metrics/claims with reports/.
SPARSELAB_ARTIFACTS ?= $(if $(filter smoke,$(PROFILE)),off,use)
FRESH_ENV := SPARSELAB_ARTIFACTS=fresh SPARSELAB_CACHE=$(CURDIR)/build/fresh/cache \
	SPARSELAB_REPORTS_DIR=$(CURDIR)/build/fresh/reports

reports: setup ## run every notebook with PROFILE and render reports + index.html (FRESH=1: recompute, compare)
ifeq ($(FRESH),1)
	$(FRESH_ENV) $(PY) -m sparselab report run all --profile full
	$(PY) -m sparselab report compare reports build/fresh/reports
else
	$(if $(filter full,$(PROFILE)),$(PY) -m sparselab artifacts verify)
	SPARSELAB_ARTIFACTS=$(SPARSELAB_ARTIFACTS) $(PY) -m sparselab report run all --profile $(PROFILE)
endif

report: setup ## run one notebook: make report NB=03 PROFILE=smoke (FRESH=1 as for reports)
ifeq ($(FRESH),1)
	$(FRESH_ENV) $(PY) -m sparselab report run $(NB) --profile full
	$(PY) -m sparselab report compare reports build/fresh/reports
else
	SPARSELAB_ARTIFACTS=$(SPARSELAB_ARTIFACTS) $(PY) -m sparselab report run $(NB) --profile $(PROFILE)
endif

lab: setup ## open JupyterLab on notebooks/ with the sparselab kernel
	JUPYTER_PATH=$(abspath $(VENV))/share/jupyter $(VENV)/bin/jupyter lab notebooks/

bench: setup ## run every benchmark script (minutes; writes benchmarks/results/)
	for f in benchmarks/*.py; do [ $$f = benchmarks/readme.py ] || $(PY) $$f || exit 1; done
	$(PY) benchmarks/readme.py

lint: setup ## ruff
	$(PY) -m ruff check src tests benchmarks

clean: ## remove build outputs (keeps data/cache and .venv)
	rm -rf build
