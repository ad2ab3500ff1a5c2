# smsctl: `make run` starts the system on embedded defaults; `make test` runs lint and every test.
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench install services clean

$(STAMP): pyproject.toml scripts/bootstrap.sh
	scripts/bootstrap.sh $(VENV)
	touch $(STAMP)

install: $(STAMP)

services:
	scripts/ensure-services.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: install services lint
	$(VENV)/bin/pytest -q -p no:cacheprovider

run: install
	mkdir -p var
	$(VENV)/bin/smsctl run --all

bench: install services
	$(PY) -m bench

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
