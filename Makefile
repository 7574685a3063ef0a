# Deskmate: `make run` sets up and serves the sample KB; `make test` sets up and runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install index run test lint pytest bench-quality bench-edit bench-suggest bench-analytics bench bench-latency bench-throughput bench-peer bench-build bench-scale extension screenshots clean

# torch comes first and exactly pinned: that takes the local CPU wheel; letting
# sentence-transformers resolve it would pull several GB of CUDA packages.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

index: install
	$(BIN)/deskmate index build

run: index
	$(BIN)/deskmate serve

lint: install
	$(BIN)/ruff check app indexer tests bench docs deskmate_client
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint pytest

bench-quality: install
	$(BIN)/python bench/quality.py --calibrate --ablate-stemming

bench-edit: install
	$(BIN)/python bench/edit_latency.py

# Performance (issue 8): every figure in bench/RESULTS.md's performance section; each
# step is bounded in time (timeout) and talks only to 127.0.0.1. 16–33 minutes in all.
bench: bench-latency bench-throughput bench-peer bench-build bench-edit bench-scale bench-analytics

bench-latency: install
	timeout 1200 $(BIN)/python bench/latency.py

bench-throughput: install
	timeout 600 $(BIN)/python bench/throughput.py

bench-peer: install
	timeout 1800 $(BIN)/python bench/peer_txtai.py

bench-build: install
	timeout 1200 $(BIN)/python bench/build_speed.py

bench-scale: install
	timeout 1800 $(BIN)/python bench/scale.py

bench-analytics: install
	timeout 900 $(BIN)/python bench/analytics_load.py

bench-suggest: install
	$(BIN)/python bench/suggest_quality.py

extension: dist/deskmate-extension.zip

dist/deskmate-extension.zip: $(wildcard extension/*)
	mkdir -p dist
	$(PYTHON) -c "import pathlib, zipfile; z = zipfile.ZipFile('$@', 'w', zipfile.ZIP_DEFLATED); [z.write(p, p.relative_to('extension')) for p in sorted(pathlib.Path('extension').rglob('*')) if p.is_file()]; z.close()"
	@echo "packed $@"

screenshots: index
	$(BIN)/python docs/take_screenshots.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
