# Two commands on a fresh machine: `make demo` and `make test`. Both set everything up first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.insarhub-installed
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: setup browser test demo server lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml sandbox/pyproject.toml
	@command -v gdal-config >/dev/null || { \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo ">> installing GDAL (Debian: libgdal-dev gdal-bin)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgdal-dev gdal-bin >/dev/null; \
	  else \
	    echo "GDAL is missing. Run: sudo apt-get install -y libgdal-dev gdal-bin   then run make again." >&2; exit 1; \
	  fi; }
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel setuptools
	$(PY) -m pip install -q -e ".[dev]" -e ./sandbox  # the product and its offline test world
	$(PY) -c "import osgeo" 2>/dev/null || $(PY) -m pip install -q --no-build-isolation "GDAL==$$(gdal-config --version)"
	@touch $(STAMP)

# headless Chromium for the browser test (tests/flows/test_flows_server.py), like GDAL: installed
# when we are root, else the command is printed and that test is skipped
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo ">> installing Chromium (Debian: chromium) for the browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "Chromium is missing: the browser test will be skipped. Run: sudo apt-get install -y chromium" >&2; \
	  fi; }

# 3 workers on 2 cores: many tests wait on servers and subprocesses (pytest-xdist)
test: setup browser
	$(PY) -m pytest -q -n 3 --dist loadgroup  # a test may pin itself with @pytest.mark.xdist_group

lint: setup
	$(VENV)/bin/ruff check insarhub tasks flows sandbox tests bench
	$(VENV)/bin/mypy

demo: setup
	$(PY) -m flows.demo

server: setup
	$(PY) -m flows.server

bench: setup
	for b in bench/*.py; do $(PY) -P $$b || exit 1; done  # -P: bench/mintpy.py must not shadow MintPy

clean:
	rm -rf $(VENV) demo_work .pytest_cache .mypy_cache .ruff_cache
