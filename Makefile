# The two commands of the README, plus helpers. Each builds or reuses .venv first.
.PHONY: demo test env lint clean

PY := .venv/bin/python

env:
	@bash scripts/setup_env.sh

demo: env
	@$(PY) -m ness_ros.cli.main demo

test: env
	@$(PY) -m pytest test

lint: env
	@.venv/bin/ruff check .

clean:
	rm -rf .venv build
