# The two commands a user needs: `make serve` and `make test`. Everything else is set-up they call.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The distributed extra (Ray, lance-ray) is tested by `make test` but not needed to serve.
DIST_STAMP := $(VENV)/.installed-distributed

.PHONY: serve test compile test-fast demo bench generate proto proto-check lint clean screenshots browser-deps system-deps

HTTP_PORT ?= 8080

# The venv is rebuilt when the dependency declarations change.
$(STAMP): pyproject.toml clients/python/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# pip (not uv): only pip sees this machine's local wheel index for torch/torchvision.
	$(BIN)/pip install -q -e clients/python -e '.[test,fast]'
	touch $(STAMP)

$(DIST_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[test,fast,distributed]'
	touch $(DIST_STAMP)

venv: $(STAMP)

# gRPC on 50051; the web app and the HTTP/JSON API on $(HTTP_PORT) (the URL is printed). The
# sample folder is the index root, so the demo's speech clips can be played in the browser.
serve: $(STAMP) compile
	$(BIN)/omnivec serve --host 127.0.0.1 --port 50051 --http-port $(HTTP_PORT) --index-root samples

# Bytecode for the editable sources, written once: where PYTHONDONTWRITEBYTECODE is set (these
# machines set it), every CLI call and server the tests start would otherwise compile omnivec again.
PY_SOURCES := apps indexer server clients/python
compile: $(STAMP)
	$(BIN)/python -m compileall -q $(PY_SOURCES) >/dev/null

test: $(STAMP) $(DIST_STAMP) compile
	$(BIN)/python scripts/generate_proto.py --check
	$(BIN)/python scripts/generate_async_client.py --check
	$(BIN)/python -m pytest

test-fast: $(STAMP) $(DIST_STAMP) compile
	$(BIN)/python -m pytest -m "not slow"

demo: $(STAMP)
	$(BIN)/omnivec demo --web http://127.0.0.1:$(HTTP_PORT)/

bench: $(STAMP)
	$(BIN)/omnivec bench $(BENCH_ARGS)

# All generated code: the gRPC stubs, then AsyncClient from the sync Client.
generate: proto
	$(BIN)/python scripts/generate_async_client.py

proto: $(STAMP)
	$(BIN)/python scripts/generate_proto.py

proto-check: $(STAMP)
	$(BIN)/python scripts/generate_proto.py --check

# The distributed extra too: mypy checks the Ray pipeline against the installed ray and lance-ray.
lint: $(STAMP) $(DIST_STAMP)
	$(BIN)/ruff check indexer server apps clients tests scripts
	$(BIN)/mypy indexer/omnivec server/omnivec apps/omnivec clients/python/omnivec

# Debian's Chromium for the browser tests (tests/browser); Playwright drives it, never downloads one.
# Debian packages the tests drive: Chromium for the browser tests, strace for the fsync proof.
system-deps:
	command -v chromium >/dev/null && command -v strace >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver strace)

browser-deps: system-deps

# The README's pictures of the web app (docs/screenshots), taken by the browser tests.
screenshots: $(STAMP)
	OMNIVEC_DOCS_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/browser

clean:
	rm -rf $(VENV) .pytest_cache
