# Styrkedja: two commands.
#   make run    start the whole system on one machine (embedded PostgreSQL + embedded broker;
#               STYRKEDJA_BROKER=kafka make run: Apache Kafka instead, needs Java 17+ and Maven)
#   make test   create the environment from the pinned lock and run every test (on both brokers;
#               STYRKEDJA_TEST_BROKERS=embedded make test for one)
#   make demo   fill the running system with Mittköping, the demo municipality
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install check-contracts bench bench-soak demo lock clean kafka-jars

DASHBOARD := services/dashboard

$(STAMP): requirements/lock.txt requirements/local.txt packages/*/pyproject.toml services/*/pyproject.toml \
          $(DASHBOARD)/package-lock.json
	@echo "==> creating $(VENV) from requirements/lock.txt"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -r requirements/lock.txt
	@$(BIN)/python -m pip install --quiet --no-deps -r requirements/local.txt
	@echo "==> dashboard assets from npm (package-lock.json; served by the dashboard itself, never a CDN)"
	@cd $(DASHBOARD) && npm ci --no-audit --no-fund --silent && npm run --silent build
	@# the browser tests drive Debian's Chromium (Playwright's own browser download cannot work here); the lock
	@# timeout waits for another apt (a second checkout installing at the same time) instead of failing
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "==> installing chromium from Debian for the browser tests"; \
	    apt-get -o DPkg::Lock::Timeout=600 install -y -q chromium >/dev/null || (apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null && apt-get -o DPkg::Lock::Timeout=600 install -y -q chromium >/dev/null); \
	  else echo "==> /usr/bin/chromium missing and not root: the browser tests will be skipped"; fi; \
	fi
	@touch $(STAMP)

install: $(STAMP)

# Apache Kafka's jars from Maven Central into .styrkedja/apache-kafka/<version>/lib (once; the devstack
# and the tests also do this on first use). Pinned in packages/devstack/src/styrkedja_devstack/maven/kafka-pom.xml.
kafka-jars: $(STAMP)
	@$(BIN)/python -c "from styrkedja_devstack.apache_kafka import resolve_jars; print(resolve_jars())"

run: $(STAMP)
	@$(BIN)/styrkedja run

# Fill the running system (`make run` in another terminal) with Mittköping; DEMO_ARGS="--students 600" is quick.
demo: $(STAMP)
	@$(BIN)/styrkedja demo $(DEMO_ARGS)

# two pytest workers (pytest-xdist): the two brokers' tests side by side, each broker's on one worker
# (see styrkedja_devstack.pytest_plugin); TEST_WORKERS=0 runs everything in one process
TEST_WORKERS ?= 2
test: $(STAMP)
	@echo "==> lint (ruff: pyflakes, import order, bugbear, pyupgrade, simplify, ...)"
	@$(BIN)/ruff check packages services tests bench deploy
	@echo "==> types (mypy: strict on contracts and kit, default elsewhere; see pyproject.toml)"
	@$(BIN)/mypy
	@echo "==> contracts: schemas exported and compatible"
	@$(BIN)/python -m styrkedja_contracts check --history
	@echo "==> pytest (the 25 slowest tests listed at the end)"
	@$(BIN)/python -m pytest --durations=25 -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# issue 16's figures, each stage measured in isolation, with raw-limit probes in the same run:
# a table and bench/results/latest.json (bench/README.md). BROKER=kafka for Apache Kafka;
# BENCH_ARGS="--full" for the 100,000-student size, "--items 20000" for a quicker run.
BROKER ?= embedded
bench: $(STAMP)
	@$(BIN)/python bench/speed.py --broker $(BROKER) $(BENCH_ARGS)

# the older benches: ingest rates and latency on both brokers, then a few-minute soak that shows the
# embedded broker's memory growing and Apache Kafka's staying flat (bench/results/*.json)
bench-soak: $(STAMP)
	@$(BIN)/python bench/ingest.py --broker embedded
	@$(BIN)/python bench/ingest.py --broker kafka
	@$(BIN)/python bench/soak.py

# Re-pin: resolve the direct dependencies and freeze the full transitive sets:
# requirements/runtime.txt (the images) and requirements/lock.txt (development and CI).
lock:
	@rm -rf /tmp/styrkedja-lock && $(PYTHON) -m venv /tmp/styrkedja-lock
	@/tmp/styrkedja-lock/bin/pip install --quiet -r requirements/runtime.in
	@/tmp/styrkedja-lock/bin/pip freeze > requirements/runtime.txt
	@/tmp/styrkedja-lock/bin/pip install --quiet -r requirements/dev.in
	@/tmp/styrkedja-lock/bin/pip freeze > requirements/lock.txt

clean:
	rm -rf $(VENV) .styrkedja
