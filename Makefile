# The course's commands. `make lab` and `make test` are all a new user needs; both create .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUBMISSIONS ?= submissions
ASSIGNMENT ?= 01_conv2d_padding_stride
# jupyter refuses to run as root unless told (containers, CI)
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
# Test workers: one per core by default; `make test WORKERS=1` to run serially.
WORKERS ?= auto

.PHONY: lab test test-steps lint format tidy assignments lectures slides handouts grade bench system-packages clean

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed: run 'make PYTHON=python3.11 ...'"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	@# nbgrader is there for the instructors' exports; students in `make lab` need none of its menus.
	for part in formgrader validate_assignment assignment_list course_list; do \
	  $(BIN)/jupyter server extension disable --sys-prefix nbgrader.server_extensions.$$part >/dev/null; done
	$(BIN)/jupyter labextension disable --level=sys_prefix @jupyter/nbgrader >/dev/null 2>&1
	touch $(STAMP)

system-packages:
	@bash tools/install-system-packages.sh

lab: $(STAMP) system-packages
	$(BIN)/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks $(ROOT_FLAG)

test: $(STAMP) system-packages
	@bash tools/timed.sh _build/bench/make_test_seconds $(MAKE) --no-print-directory test-steps

# The steps of `make test`, timed as a whole by the target above (course bench reports it).
test-steps:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/course build-assignments --check
	$(BIN)/course export-lectures --check
	$(BIN)/pytest -n $(WORKERS) --dist loadfile --nbval-lax \
	  --nbval-cell-timeout=600 tests notebooks solutions

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/course tidy
	$(BIN)/course export-lectures

tidy: $(STAMP)
	$(BIN)/course tidy

assignments: $(STAMP)
	$(BIN)/course build-assignments

lectures: $(STAMP)
	$(BIN)/course export-lectures

slides: $(STAMP) system-packages
	$(BIN)/course slides

handouts: $(STAMP) system-packages
	$(BIN)/course slides --pdf

grade: $(STAMP)
	$(BIN)/course grade $(ASSIGNMENT) $(SUBMISSIONS) --out _build/grades/$(ASSIGNMENT)

bench: $(STAMP) system-packages
	$(BIN)/course bench

clean:
	rm -rf _build .pytest_cache .ruff_cache
