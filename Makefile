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

# WHEEL=1 runs every chapter as a reader's installation does (used by CI): glmlib is built
# into a wheel, installed (--no-deps) into $(WHEEL_DIR)/site, put ahead of the venv's
# editable install with PYTHONPATH, and each chapter runs in a fresh directory outside the
# repository, so a chapter that needs any file of the checkout besides glmlib fails.
# Without it, chapters run in notebooks/ against the editable install.
WHEEL ?=
WHEEL_DIR := _build/wheel
USE_WHEEL := $(filter 1 true True yes,$(WHEEL))

# Chapter notebooks are the notebooks/<name> entries of _toc.yml, in book order.
NOTEBOOKS := $(shell sed -n 's|^[^#]*file: *\(notebooks/[^ #]*\).*|\1|p' _toc.yml)

# Let papermill and jupyter-book find the venv's kernel before any in ~/.local.
export JUPYTER_PREFER_ENV_PATH := 1
# Silence the kernel's "frozen modules" debugger warning on every notebook start.
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: venv test lint book wheel-site check-book gpu-check experiments clean distclean

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

book: $(STAMP) $(if $(USE_WHEEL),wheel-site)
	rm -rf $(SITE)
	mkdir -p $(SITE)/notebooks
	cp -R _config.yml _toc.yml book $(SITE)/
	@set -e; for nb in $(NOTEBOOKS); do \
	  if [ ! -f $$nb.py ]; then echo "error: _toc.yml lists $$nb but $$nb.py is missing" >&2; exit 1; fi; \
	  $(BIN)/jupytext --sync $$nb.py; \
	  if [ -n "$(USE_WHEEL)" ]; then \
	    cwd=$$(mktemp -d -t glmlib-book-XXXXXX); \
	    echo "== $$nb $(PAPERMILL_PARAMS) (glmlib from the wheel, in $$cwd)"; \
	    env -u GLMLIB_DATA PYTHONPATH=$(CURDIR)/$(WHEEL_DIR)/site \
	      $(BIN)/papermill --no-progress-bar -k $(KERNEL) --cwd $$cwd $(PAPERMILL_PARAMS) \
	      $$nb.ipynb $(SITE)/$$nb.ipynb; \
	    rm -rf $$cwd; \
	  else \
	    echo "== $$nb $(PAPERMILL_PARAMS)"; \
	    $(BIN)/papermill --no-progress-bar -k $(KERNEL) --cwd notebooks $(PAPERMILL_PARAMS) \
	      $$nb.ipynb $(SITE)/$$nb.ipynb; \
	  fi; \
	done
	$(BIN)/jupyter-book build $(SITE) --path-output . --all -W --keep-going
	@echo "Book built: $(CURDIR)/$(HTML)/index.html"

# The wheel a reader's `pip install` builds, installed alone into $(WHEEL_DIR)/site (its
# dependencies come from the venv). The build reads a copy of the build inputs, so no
# build/ or *.egg-info appears in the checkout. Fails unless that copy is what imports.
wheel-site: $(STAMP)
	rm -rf $(WHEEL_DIR)
	mkdir -p $(WHEEL_DIR)/src
	cp pyproject.toml setup.py MANIFEST.in README.md $(WHEEL_DIR)/src/
	cp -R glmlib data $(WHEEL_DIR)/src/
	find $(WHEEL_DIR)/src -name __pycache__ -prune -exec rm -rf {} +
	rm -rf $(WHEEL_DIR)/src/glmlib/datasets/data
	$(BIN)/pip wheel --disable-pip-version-check --no-deps --no-build-isolation -q \
	  -w $(WHEEL_DIR)/dist $(WHEEL_DIR)/src
	$(BIN)/pip install --disable-pip-version-check --no-deps --no-index -q \
	  --target $(WHEEL_DIR)/site $(WHEEL_DIR)/dist/glmlib-*.whl
	@cd /tmp && found=$$(env -u GLMLIB_DATA PYTHONPATH=$(CURDIR)/$(WHEEL_DIR)/site \
	  $(abspath $(BIN))/python -c 'import glmlib; print(glmlib.__file__)') && \
	  case "$$found" in $(CURDIR)/$(WHEEL_DIR)/site/*) echo "glmlib from the wheel: $$found";; \
	  *) echo "error: glmlib imports from $$found, not the wheel" >&2; exit 1;; esac

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

# The full experiment grid of chapter 9 (one thread, under nice; data sets subsampled to
# MAX_ROWS rows; about 30 minutes on the project's shared 2-core machine with REPEATS=3): writes glmlib/recorded/experiments/full.json.
REPEATS ?= 3
MAX_ROWS ?= 3000
experiments: $(STAMP)
	nice $(BIN)/python benchmarks/run_experiments.py --repeats $(REPEATS) --max-rows $(MAX_ROWS)

clean:
	rm -rf _build

distclean: clean
	rm -rf $(VENV)
