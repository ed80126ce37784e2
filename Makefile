# Two commands on a fresh machine: `make run` serves, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONTRACT := tests/contract
DASHBOARD := web/dashboard
DASHBOARD_SOURCES := $(shell find $(DASHBOARD)/src $(DASHBOARD)/static -type f) $(DASHBOARD)/build.mjs
# The browser tests drive Debian's Chromium (Playwright cannot download browsers here).
CHROMIUM ?= /usr/bin/chromium
# The deployment test checks docs/deploy/nginx.conf with nginx -t: the machine's nginx, else
# Debian's package unpacked under .tools (not installed: nothing starts, nothing listens).
NGINX_UNPACKED := .tools/nginx/usr/sbin/nginx
NGINX := $(or $(shell command -v nginx 2>/dev/null),$(wildcard /usr/sbin/nginx),$(NGINX_UNPACKED))

.PHONY: run test lint pytest browser-tests dashboard bench clean

run: $(VENV)/.runtime dashboard
	$(BIN)/python run.py

test: lint pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

pytest: $(VENV)/.dev $(CONTRACT)/node_modules/.installed dashboard $(CHROMIUM) $(NGINX)
	NGINX=$(NGINX) $(BIN)/python -m pytest

# Only the dashboard's tests in a real browser.
browser-tests: $(VENV)/.dev dashboard $(CHROMIUM)
	$(BIN)/python -m pytest tests/browser

dashboard: $(DASHBOARD)/dist/.built

$(DASHBOARD)/dist/.built: $(DASHBOARD)/node_modules/.installed $(DASHBOARD_SOURCES)
	cd $(DASHBOARD) && node build.mjs

$(DASHBOARD)/node_modules/.installed: $(DASHBOARD)/package.json $(DASHBOARD)/package-lock.json
	cd $(DASHBOARD) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CHROMIUM):
	@echo "installing Chromium for the browser tests (needs root: apt-get)"
	apt-get update -qq && apt-get install -y -qq chromium

$(NGINX_UNPACKED):
	@echo "unpacking Debian's nginx into .tools for the deployment test (apt-get download)"
	rm -rf .tools/nginx && mkdir -p .tools/nginx
	cd .tools && (apt-get download -qq nginx || (apt-get update -qq && apt-get download -qq nginx)) \
		&& dpkg-deb -x nginx_*.deb nginx && rm -f nginx_*.deb

bench: $(VENV)/.dev
	$(BIN)/python -m bench.load
	$(BIN)/python -m bench.redis_memory
	$(BIN)/python -m bench.reports

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

$(CONTRACT)/node_modules/.installed: $(CONTRACT)/package.json $(CONTRACT)/package-lock.json
	cd $(CONTRACT) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf $(VENV) $(CONTRACT)/node_modules $(DASHBOARD)/node_modules $(DASHBOARD)/dist \
		.pytest_cache .mypy_cache .ruff_cache .tools
