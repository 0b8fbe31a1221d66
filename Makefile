# Every target sets itself up: a fresh clone needs only Python 3.10+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
STAMP := $(VENV)/.installed

.PHONY: install test test-fast demo data bench-accuracy bench-speed bench-real-corpora clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Fetch the builtin corpora, word vectors, SmolLM2 and MiniLM into the cache (once).
data: install
	$(BIN)/textcls download all

test: install data
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

test-fast: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m "not slow"

# The main job: TextCNN on movie-snippets, trained and tested on the CPU (corpus fetched on first use).
demo: install
	HF_HUB_OFFLINE=1 $(BIN)/accelerate launch --num_processes 1 --num_machines 1 --mixed_precision no \
		--dynamo_backend no recipes/finetune.py --overwrite_output_dir

# Benchmarks (bench/RESULTS.md). QUICK=1: the CI-sized run, into bench/results/*-quick.json only.
# BENCH_ARGS passes flags through, e.g. BENCH_ARGS="--threads 1" on cores shared with other jobs.
# The real fastText (the `bench` extra) is the reference of the accuracy table: installed by these targets only.
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	touch $(BENCH_STAMP)

bench-accuracy: install $(BENCH_STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/accuracy.py $(if $(QUICK),--quick) $(BENCH_ARGS)
	$(if $(QUICK),,HF_HUB_OFFLINE=1 $(BIN)/python bench/report.py)

bench-speed: install $(BENCH_STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/speed.py $(if $(QUICK),--quick) $(BENCH_ARGS)
	$(if $(QUICK),,HF_HUB_OFFLINE=1 $(BIN)/python bench/report.py)

# Issue 11: class weights on reuters-r8, chunk vs truncate on 20newsgroups, tuned CNNs vs defaults (hours on a CPU).
bench-real-corpora: install
	HF_HUB_OFFLINE=1 $(BIN)/python bench/real_corpora.py $(if $(QUICK),--quick) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build src/*.egg-info
