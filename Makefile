# The dev loop. README's two commands stay the truth for a new user; this file is how they work.
PYTHON ?= python3
# Cargo's build cache lives outside the checkout so that fresh clones on this machine reuse it.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/fleetstream/target
export MATURIN_PEP517_ARGS ?= --profile release

.PHONY: develop test test-rust test-python stubtest lint wheel bench bench-kafka bench-routing bench-payments demo clean

develop:
	$(PYTHON) -m pip install -q --disable-pip-version-check -r requirements-test.txt
	$(PYTHON) -m pip install -q --disable-pip-version-check --no-build-isolation -e .

test-rust:
	cargo test --quiet

stubtest: develop
	$(PYTHON) -m mypy.stubtest fleetstream._core --mypy-config-file pyproject.toml --allowlist tests/stubtest_allowlist.txt

test-python: develop
	$(PYTHON) -m pytest -q

test: test-rust stubtest test-python

lint:
	cargo clippy --all-targets -- -D warnings
	cargo clippy --features python -- -D warnings
	$(PYTHON) -m mypy

# An abi3 wheel (CPython 3.11+, x86-64 Linux with glibc 2.34+) in dist/: build once, `pip install` it anywhere in
# seconds. It links the system's libsqlite3.so.0 (the one CPython's own sqlite3 module loads) instead of bundling a
# second copy, so maturin's audit warns about it by design.
MATURIN_OUT ?= dist
wheel:
	$(PYTHON) -m maturin build --release --compatibility manylinux_2_34 --auditwheel warn --out $(MATURIN_OUT)

bench: develop
	$(PYTHON) benches/bench_windows.py --data-dir ../shared/data

# 1M JSON log messages through the local Tansu broker: fleetstream vs confluent-kafka read-only and Python.
bench-kafka: develop
	$(PYTHON) benches/bench_kafka.py --messages 1000000

# Solomon + X instances, 10 s each, side by side with PyVRP and OR-Tools (pip install pyvrp ortools).
bench-routing: develop
	$(PYTHON) benches/bench_routing.py --data-dir ../shared/data/vrp --time-limit 10

# 1M payments from the local broker into PostgreSQL (embedded) and SQLite, vs Python written batched (whole stream)
# and one message at a time (a 20,000-message prefix topic, on which fleetstream is measured again).
bench-payments: develop
	$(PYTHON) benches/bench_payments.py --messages 1000000 --baseline-messages 20000

demo: develop
	fleetstream demo

clean:
	rm -f python/fleetstream/_core*.so
