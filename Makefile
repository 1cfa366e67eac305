# Eventdesk: `make run` serves the built-in conference, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
EVENTDESK_DATA_DIR ?= $(CURDIR)/instance
export HOST PORT EVENTDESK_DATA_DIR

.PHONY: run test lint format bench clean edge

# Reinstall only when the packaging changes; the install is editable, so code edits need nothing.
$(BIN)/.installed-%: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.1"
	$(BIN)/python -m pip install --quiet -e ".[$*]"
	touch $@

$(BIN)/.installed-run: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.1"
	$(BIN)/python -m pip install --quiet -e .
	touch $@

SERVE = $(BIN)/gunicorn --config python:server.gunicorn_conf "server:create_app()"
# With EVENTDESK_REPLICA set (a directory, or s3://bucket/path in production), Litestream replicates
# the database continuously and runs gunicorn as its child, so both stop together (README, Backups).
REPLICATE = $(BIN)/litestream replicate -config "$$($(BIN)/eventdesk-server replica-config)"

run: $(BIN)/.installed-run
	$(BIN)/eventdesk-server init-db
	$(BIN)/eventdesk-server load-programme --builtin --if-absent
	@echo "Serving on http://$(HOST):$(PORT)/  (API docs: http://$(HOST):$(PORT)/api/v1/docs)"
	$(if $(EVENTDESK_REPLICA),$(REPLICATE) -exec '$(SERVE)',$(SERVE))

# Browser tests (Swagger UI, the pages) drive Debian's chromium through chromedriver; both installed if missing.
test: $(BIN)/.installed-test
	(command -v chromium && command -v chromedriver) >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)
	$(NGINX_CHECK) || (apt-get update -qq && apt-get install -y -qq nginx)
	$(BIN)/python -m pytest

lint: $(BIN)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Benchmarks need wrk (Debian package); installed here if missing.
bench: $(BIN)/.installed-test
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/cli_bench.py
	$(BIN)/python bench/door_cli_bench.py
	$(BIN)/python bench/pages_bench.py
	$(BIN)/python bench/door_page_bench.py
	$(BIN)/python bench/matchmaking_bench.py
	$(BIN)/python bench/backup_bench.py
	$(NGINX_CHECK) || (apt-get update -qq && apt-get install -y -qq nginx)
	$(BIN)/python bench/edge_bench.py
	$(BIN)/python bench/metrics_bench.py

# The edge: nginx (Debian package, installed if missing) with deploy/nginx.conf on EDGE_PORT in
# front of gunicorn on PORT, both started and stopped together by server/edge.py.
EDGE_PORT ?= 8080
export EDGE_PORT
NGINX_CHECK = (test -x /usr/sbin/nginx || command -v nginx >/dev/null)

edge: $(BIN)/.installed-run
	$(NGINX_CHECK) || (apt-get update -qq && apt-get install -y -qq nginx)
	$(BIN)/eventdesk-server init-db
	$(BIN)/eventdesk-server load-programme --builtin --if-absent
	$(BIN)/python -m server.edge

clean:
	rm -rf $(VENV) build *.egg-info
