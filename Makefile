# The two promises: `make run` serves the API on :8000, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: run test lint typecheck architecture coverage migrate seed clean lock bench-seed \
	bench bench-cluster bench-soak bench-long bench-writes loadtest-ui faults fault-tests fault-broker fault-smtp fault-relay

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/shelfmark serve

test: $(STAMP) lint typecheck architecture
	$(BIN)/python -m pytest -q -m "not long"

lint: $(STAMP)
	$(BIN)/ruff check src tests migrations bench
	$(BIN)/ruff format --check src tests migrations bench

typecheck: $(STAMP)
	$(BIN)/mypy src

architecture: $(STAMP)
	$(BIN)/lint-imports

coverage: $(STAMP)
	$(BIN)/python -m pytest -q --cov --cov-report=html:var/coverage --cov-report=term
	@echo "HTML report: var/coverage/index.html"

# `make test` runs the quick fault tests and a small model run; `make faults` (CI runs it after
# `make test-cluster`) runs every fault test, figures printed and the matrix's written to
# bench/results/faults.md, and at the same time the long model run, 500 examples of up to 40
# steps, as two halves of 250 with seeds 1 and 2 (single-threaded and with no shared service,
# they use what the fault tests leave of the two cores: 4.7 minutes against 6.3 for one run).
faults: $(STAMP)  ## every fault test (figures: bench/results/faults.md) and the model test at 500 x 40
	@$(MAKE) --no-print-directory -j3 --output-sync=target fault-tests model-long-1 model-long-2

fault-tests: $(STAMP)
	SHELFMARK_FAULTS_REPORT=bench/results/faults.md $(BIN)/python -m pytest -p no:cacheprovider -m fault -s -q tests/fault

model-long-%: $(STAMP)
	SHELFMARK_MODEL_EXAMPLES=250 SHELFMARK_MODEL_STEPS=40 SHELFMARK_MODEL_SEED=$* \
	  $(BIN)/python -m pytest -p no:cacheprovider -q --hypothesis-seed=$* tests/model

fault-broker: $(STAMP)  ## RabbitMQ cut for 20 s during 1,000 borrows and returns
	$(BIN)/python -m pytest -s -q tests/fault/test_broker_outage.py

fault-smtp: $(STAMP)  ## the SMTP server down while patrons borrow
	$(BIN)/python -m pytest -s -q tests/fault/test_smtp_outage.py

fault-relay: $(STAMP)  ## two relay processes at once; a relay killed between publish and mark
	$(BIN)/python -m pytest -s -q tests/fault/test_relay_processes.py

migrate: $(STAMP)
	$(BIN)/shelfmark migrate

seed: $(STAMP)
	$(BIN)/shelfmark seed --books 1000 --patrons 200

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache

lock:  ## re-resolve every dependency to its newest allowed version and pin it
	rm -rf var/lockenv && $(PYTHON) -m venv var/lockenv
	var/lockenv/bin/pip install --quiet -e '.[dev]'
	{ echo '# Every version the project and its tools run with; regenerate with `make lock`.'; \
	  var/lockenv/bin/pip freeze --exclude-editable; } > constraints.txt

bench-seed: $(STAMP)  ## time `shelfmark seed` for 100k books on SQLite and PostgreSQL
	$(BIN)/python bench/seed.py

# The load tests and the benchmark need the `bench` extra (Locust, matplotlib), pinned in
# bench/constraints.txt on top of constraints.txt; `make test` does not install it.
$(BENCH_STAMP): $(STAMP) bench/constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -c bench/constraints.txt -e '.[bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)  ## the embedded mode under the 93/7 mix, step by step, and the ceiling
	@command -v wrk >/dev/null || echo "wrk is missing (apt-get install wrk): the report will have no wrk figures"
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-cluster: $(BENCH_STAMP)  ## scaled mode (a cluster of its own, deploy/cluster.sh) under the same mix
	@command -v wrk >/dev/null || echo "wrk is missing (apt-get install wrk): the report will have no wrk figures"
	$(BIN)/python bench/cluster.py $(BENCH_ARGS)

bench-soak: $(BENCH_STAMP)  ## the mix at 32 users for 10 minutes, the server's memory followed
	$(BIN)/python bench/run.py --soak 10 $(BENCH_ARGS)

bench-long: $(BENCH_STAMP)  ## the same with 60 s steps, up to 128 users
	$(BIN)/python bench/run.py --long $(BENCH_ARGS)

LOCUST_HOST ?= http://127.0.0.1:8000
loadtest-ui: $(BENCH_STAMP)  ## Locust's web UI on http://127.0.0.1:8089 against a running server
	$(BIN)/locust -f bench/locust/locustfile.py --host $(LOCUST_HOST) \
	  --web-host 127.0.0.1 --web-port 8089

bench-writes: $(STAMP)  ## CPU per write in embedded mode: the command, its events, its e-mail (no HTTP)
	$(BIN)/python bench/write_costs.py $(BENCH_ARGS)

bench-read: $(STAMP)  ## the read side at 10k, 100k and 1M books on SQLite and PostgreSQL, one client
	$(BIN)/python bench/read_side.py $(BENCH_ARGS)

.PHONY: replica-up replica-down
replica-up:  ## a streaming replica of the local PostgreSQL on 127.0.0.1:5433 (scripts/replica.sh)
	bash scripts/replica.sh start

replica-down:  ## stop that replica and delete its directory
	bash scripts/replica.sh stop

# Scaled mode on this machine (deploy/cluster.sh, docs/deployment.md): PgBouncer, etcd,
# SHELFMARK_API_PROCESSES API processes behind nginx, the workers; all in var/cluster/.
.PHONY: cluster-up cluster-down cluster-restart-api cluster-status compose-plugin test-cluster
cluster-up: $(STAMP)  ## install what is missing (apt-get), start the cluster, wait, say where
	bash deploy/cluster.sh up

cluster-down:  ## stop exactly what cluster-up started (pid files in var/cluster/run)
	bash deploy/cluster.sh down

cluster-restart-api:  ## rolling restart of the API processes, one at a time, each draining on SIGTERM
	bash deploy/cluster.sh restart-api

compose-plugin:  ## Docker Compose v2 under var/tools/docker, for `docker compose config` (no engine needed)
	bash deploy/compose-plugin.sh

cluster-status:
	bash deploy/cluster.sh status

# The end-to-end HTTP suite through nginx, then the cluster's own tests (etcd live settings,
# rolling restart and SIGKILL under load); the cluster is started and always stopped.
test-cluster: $(STAMP)
	bash deploy/test-cluster.sh
