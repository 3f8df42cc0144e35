# Styrkedja: two commands.
#   make run    start the whole system on one machine (embedded PostgreSQL + embedded broker)
#   make test   create the environment from the pinned lock and run every test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install check-contracts bench lock clean

$(STAMP): requirements/lock.txt requirements/local.txt packages/*/pyproject.toml services/*/pyproject.toml
	@echo "==> creating $(VENV) from requirements/lock.txt"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -r requirements/lock.txt
	@$(BIN)/python -m pip install --quiet --no-deps -r requirements/local.txt
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@$(BIN)/styrkedja run

test: $(STAMP)
	@echo "==> lint (ruff: pyflakes, import order, bugbear, pyupgrade, simplify, ...)"
	@$(BIN)/ruff check packages services tests bench deploy
	@echo "==> types (mypy: strict on contracts and kit, default elsewhere; see pyproject.toml)"
	@$(BIN)/mypy
	@echo "==> contracts: schemas exported and compatible"
	@$(BIN)/python -m styrkedja_contracts check --history
	@echo "==> pytest"
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	@$(BIN)/python bench/ingest.py

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
