# The two commands the README documents: `make demo` and `make test`.
PY := .venv/bin/python
SHELL := /bin/bash

.PHONY: demo test setup lint bench clean

$(PY):
	python3 -m venv .venv

.venv/.demo-deps: setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

demo: .venv/.demo-deps
	$(PY) scripts/demo.py

setup:
	scripts/setup-test-env.sh

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

test: lint
	.venv/bin/python -m pytest

bench: setup
	for b in benches/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf .venv build dist *.egg-info

# Installers (installer/, README.md, "Deploying to a lab"). `build`: PyInstaller bundles in dist/;
# `deb`: dist/lessongate-agent_<version>_<arch>.deb from them.
.PHONY: build deb
build: setup
	installer/build.sh dist build/pyinstaller

deb: build
	installer/debian/build-deb.sh dist dist
