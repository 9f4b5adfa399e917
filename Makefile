.PHONY: check lint types test format bench

check: lint types test

format:
	ruff format src tests bench
	ruff check --fix src tests bench

lint:
	ruff format --check src tests bench
	ruff check src tests bench
	lint-imports

types:
	mypy

test:
	python3 -m pytest

bench:
	python3 bench/working_memory.py
