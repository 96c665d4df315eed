# The two commands of the README. Each one sets up what it needs itself (scripts/setup.sh is
# idempotent and fast once .venv matches pyproject.toml and constraints/ftkit.txt).
.PHONY: demo test setup lint argilla-up argilla-down

# Tests run offline, single-threaded (two torch threads are 4x slower on a shared 2-core machine), one pytest
# worker per core instead (-n 2): most tests wait on one thread, a server or a subprocess.
TEST_ENV := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 OMP_NUM_THREADS=1

# The local Argilla installs its own virtualenv and starts while setup installs ftkit's (independent, ~1 min saved).
demo:
	scripts/argilla-local.sh up > /dev/null 2>&1 & server=$$!; scripts/setup.sh || { wait $$server; exit 1; }; wait $$server || true
	scripts/demo.sh

test: setup lint
	scripts/install-browser.sh
	$(TEST_ENV) .venv/bin/python -m pytest -n 2 --dist loadfile --durations=15

setup:
	scripts/setup.sh

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

argilla-up:
	scripts/argilla-local.sh up

argilla-down:
	scripts/argilla-local.sh down
