# Quick start (fresh machine, Python 3.11, no GPU needed):
#   make book   # execute every chapter with papermill, build _build/html with Jupyter Book
#   make test   # ruff, mypy, pytest
# See README.md for how the book is staged and built.

PYTHON3 ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
KERNEL  := glmlib
SITE    := _build/site
HTML    := _build/html

# QUICK=1 runs every chapter with `quick=True` (small sizes; used by CI).
QUICK ?=
PAPERMILL_PARAMS := $(if $(filter 1 true True yes,$(QUICK)),-p quick True)

# Chapter notebooks are the notebooks/<name> entries of _toc.yml, in book order.
NOTEBOOKS := $(shell sed -n 's|^[^#]*file: *\(notebooks/[^ #]*\).*|\1|p' _toc.yml)

# Let papermill and jupyter-book find the venv's kernel before any in ~/.local.
export JUPYTER_PREFER_ENV_PATH := 1
# Silence the kernel's "frozen modules" debugger warning on every notebook start.
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: venv test lint book check-book gpu-check clean distclean

venv: $(STAMP)

# torch first: pinning the version lets pip take the CPU wheel from local disk
# instead of downloading the multi-GB CUDA build that the `torch` extra allows.
$(STAMP): pyproject.toml
	$(PYTHON3) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e ".[test,book,torch,distributed,onnx,data,keras,gbm,tune]"
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python 3 (glmlib)"
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check glmlib tests notebooks .ci setup.py
	$(BIN)/ruff format --check glmlib tests notebooks .ci setup.py
	$(BIN)/mypy

# pytest exits 5 when it collects no tests: that is not a failure here.
test: lint
	$(BIN)/python -m pytest || [ $$? -eq 5 ]

book: $(STAMP)
	rm -rf $(SITE)
	mkdir -p $(SITE)/notebooks
	cp -R _config.yml _toc.yml book $(SITE)/
	@set -e; for nb in $(NOTEBOOKS); do \
	  if [ ! -f $$nb.py ]; then echo "error: _toc.yml lists $$nb but $$nb.py is missing" >&2; exit 1; fi; \
	  echo "== $$nb $(PAPERMILL_PARAMS)"; \
	  $(BIN)/jupytext --sync $$nb.py; \
	  $(BIN)/papermill --no-progress-bar -k $(KERNEL) --cwd notebooks $(PAPERMILL_PARAMS) \
	    $$nb.ipynb $(SITE)/$$nb.ipynb; \
	done
	$(BIN)/jupyter-book build $(SITE) --path-output . --all -W --keep-going
	@echo "Book built: $(CURDIR)/$(HTML)/index.html"

# Needs a Chromium at /usr/bin/chromium (Debian: apt-get install chromium); .ci/run installs it.
check-book: $(STAMP)
	$(BIN)/pip install -q "playwright>=1.40"
	$(BIN)/python .ci/check_book.py $(HTML)

# On a CUDA machine: every gpu test, the GPU benchmarks and the chapters on device="cuda",
# within GPU_BUDGET seconds; results (JSON, log, JUnit) go to GPU_OUT. Copy the JSON files
# into glmlib/recorded/gpu/ to commit them (benchmarks/gpu_check.py says how).
# On the project's device machine (no venv there): make gpu-check GPU_PYTHON=python3 GPU_OUT=$$OUT
GPU_PYTHON ?= $(BIN)/python
GPU_OUT    ?= _build/gpu-check
GPU_BUDGET ?= 480
gpu-check:
	$(GPU_PYTHON) benchmarks/gpu_check.py --out $(GPU_OUT) --budget $(GPU_BUDGET) \
	  --commit $${GLMLIB_COMMIT:-$$(git rev-parse HEAD 2>/dev/null || echo unknown)}

clean:
	rm -rf _build

distclean: clean
	rm -rf $(VENV)
