# The two commands a user needs: `make serve` and `make test`. Everything else is set-up they call.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: serve test test-fast demo bench generate proto proto-check lint clean

# The venv is rebuilt when the dependency declarations change.
$(STAMP): pyproject.toml clients/python/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# pip (not uv): only pip sees this machine's local wheel index for torch/torchvision.
	$(BIN)/pip install -q -e clients/python -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

serve: $(STAMP)
	$(BIN)/omnivec serve --host 127.0.0.1 --port 50051

test: $(STAMP)
	$(BIN)/python scripts/generate_proto.py --check
	$(BIN)/python scripts/generate_async_client.py --check
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

demo: $(STAMP)
	$(BIN)/omnivec demo

bench: $(STAMP)
	$(BIN)/omnivec bench $(BENCH_ARGS)

# All generated code: the gRPC stubs, then AsyncClient from the sync Client.
generate: proto
	$(BIN)/python scripts/generate_async_client.py

proto: $(STAMP)
	$(BIN)/python scripts/generate_proto.py

proto-check: $(STAMP)
	$(BIN)/python scripts/generate_proto.py --check

lint: $(STAMP)
	$(BIN)/ruff check indexer server apps clients tests scripts
	$(BIN)/mypy indexer/omnivec server/omnivec apps/omnivec clients/python/omnivec

clean:
	rm -rf $(VENV) .pytest_cache
