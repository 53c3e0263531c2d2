# gaussmix — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
# Debian's Chromium, for the HTML report's browser tests
CHROMIUM ?= /usr/bin/chromium

.PHONY: demo test lint typecheck pytest bench chromium install install-test clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Stamp files record what was installed; they are rebuilt when pyproject.toml changes.
$(VENV)/.installed: $(PY) pyproject.toml setup.py src/gaussmix/_kernels.c src/gaussmix/_kernel_body.h \
		src/gaussmix/_hierarchy.c src/gaussmix/_jacobi.c
	$(PIP) install --quiet -e '.[all]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PIP) install --quiet -e '.[all,test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

chromium:
	@test -x $(CHROMIUM) || { \
	  echo "installing Debian's chromium (needed by the report's browser tests)"; \
	  SUDO=$$(command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@test -x $(CHROMIUM)

demo: $(VENV)/.installed
	$(PY) -m gaussmix demo

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples

typecheck: $(VENV)/.installed-test
	$(VENV)/bin/mypy

# Where a C compiler exists the optional extension must have been built (tests/test_kernels.py).
pytest: $(VENV)/.installed-test chromium
	GAUSSMIX_CHROMIUM=$(CHROMIUM) \
	GAUSSMIX_REQUIRE_KERNELS=$$(command -v cc >/dev/null && echo 1) $(PY) -m pytest

test: lint typecheck pytest

# The full benchmark (tens of minutes on 2 cores); rewrites benchmarks/README.md's results.
bench: $(VENV)/.installed-test
	$(PIP) install --quiet -e '.[bench]'
	$(PY) benchmarks/bench_em.py --configs all --sk-iters 3 --repeat 5 --float32 --default-repeat 3 --write-readme
	$(PY) benchmarks/bench_scaling.py --write-readme
	$(PY) benchmarks/bench_paths.py --write-readme
	$(PY) benchmarks/bench_frame.py --write-readme
	$(PY) benchmarks/bench_dask.py --write-readme
	$(PY) benchmarks/bench_noise.py --write-readme
	$(PY) benchmarks/bench_impute.py --write-readme
	$(PY) benchmarks/bench_missing.py --write-readme
	$(PY) benchmarks/bench_stream.py --write-readme
	$(PY) benchmarks/bench_vb.py --write-readme
	@if command -v Rscript >/dev/null; then \
	  $(PY) benchmarks/bench_select.py --repeat 3 --write-readme; \
	else echo "bench_select.py skipped: it needs Rscript with mclust (r-cran-mclust)"; fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
