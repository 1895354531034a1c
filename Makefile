# The two commands of the README: `make sample` and `make test`. Both install what they need.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: install sample test

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch pinned first: an unpinned torch pulls several GB of CUDA packages.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[train,dev,dataflow]"
	touch $@

install: $(VENV)/.installed

sample: install
	$(VENV)/bin/interleaf run --input data/sample/sample.warc.gz --output out/sample --runner DirectRunner

test: install
	HF_HUB_OFFLINE=1 $(PY) -m pytest -n 2 -q tests
