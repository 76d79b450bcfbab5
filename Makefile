# Torn: `make run` serves the demo town hall, `make test` runs every test.
# Both work on a fresh clone: they create .venv and install what is missing.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PO     := $(wildcard queue_app/translations/*/LC_MESSAGES/messages.po)
MO     := $(PO:.po=.mo)
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: install run test test-fast test-deps lint format bench bench-socket bench-abuse bench-estimates translations-extract clean

install: $(VENV)/.installed node_modules/.installed $(MO)

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

%.mo: %.po $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@

run: install
	$(BIN)/flask --app queue_app init-db
	$(BIN)/flask --app queue_app seed-demo --if-empty
	QUEUE_DEMO=1 $(BIN)/python run.py --host $(HOST) --port $(PORT)

# Debian packages the tests drive: Chromium (browser tests), Redis (several server
# processes sharing broadcasts), nginx (the HTTPS reverse-proxy configuration),
# poppler-utils (reading the printed ticket's PDF), libfaketime (a server whose clock
# starts on another day, for appointments), espeak-ng (the TV's server voice, which a
# server also needs in production: docs/speech.md) and systemd (systemd-analyze checks the
# deployment's units: docs/deploy/). Installed only when missing; apt-get
# needs root.
DEBS := $(if $(wildcard /usr/bin/chromium),,chromium) $(if $(wildcard /usr/bin/redis-server),,redis-server) $(if $(wildcard /usr/sbin/nginx),,nginx-light) \
        $(if $(wildcard /usr/bin/pdftoppm),,poppler-utils) \
        $(if $(wildcard /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1),,libfaketime) \
        $(if $(wildcard /usr/bin/espeak-ng),,espeak-ng) \
        $(if $(wildcard /usr/bin/systemd-analyze),,systemd)

test-deps: install $(VENV)/.installed-test
	@if [ -n "$(strip $(DEBS))" ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq --no-install-recommends $(DEBS); fi

$(VENV)/.installed-test: setup.cfg $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

test: test-deps
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# The edit loop: the tests that start no server and no browser, on every core (pytest-xdist).
test-fast: test-deps
	$(BIN)/python -m pytest -n auto -m "not slow" $(PYTEST_ARGS)

# ruff (pyproject.toml): pycodestyle, pyflakes, import order, bugbear, and the format check;
# then mypy (pyproject.toml says what it checks): strict on the queue rules and storage.
LINTED := queue_app display tests bench run.py

lint: test-deps
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

format: test-deps
	$(BIN)/ruff check --fix $(LINTED)
	$(BIN)/ruff format $(LINTED)

# The HTTP benchmark's pass with Redis and the two-process one need redis-server (test-deps).
bench: test-deps
	$(BIN)/python bench/http_bench.py
	$(BIN)/python bench/cluster_bench.py
	$(BIN)/python bench/appointments_bench.py
	$(BIN)/python bench/stats_bench.py
	$(BIN)/python bench/sms_bench.py

bench-estimates: test-deps   # its desk pages use python-socketio's client (test extras)
	$(BIN)/python bench/estimate_sim.py

bench-socket: test-deps   # its clients: `websockets` and python-socketio of the test extras
	$(BIN)/python bench/socket_bench.py

bench-abuse: test-deps    # hostile clients against a real server (docs/security.md)
	$(BIN)/python bench/abuse_bench.py

translations-extract: install
	$(BIN)/pybabel extract --no-location -F babel.cfg -k _l -k lazy_pgettext:1c,2 -o queue_app/translations/messages.pot .
	$(BIN)/pybabel update -i queue_app/translations/messages.pot -d queue_app/translations

clean:
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis
